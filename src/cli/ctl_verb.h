// One verb of a control command (`nvmpath target-ctl`, `nvmpath host-ctl`): a subcommand with an
// example in its help, whose parent's --socket and --json may also follow it.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace nvmpath::cli {

inline CLI::App* CtlVerb(CLI::App* ctl, const std::string& name, const std::string& help,
                         const std::string& example) {
  CLI::App* v = ctl->add_subcommand(name, help);
  v->footer("Example:\n  " + example);
  v->fallthrough();
  return v;
}

}  // namespace nvmpath::cli
