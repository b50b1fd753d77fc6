#include "sim/expectation.h"

#include <memory>

namespace nvmpath::sim {

Expectation Eventually(std::string what, std::function<bool()> condition, Duration limit) {
  return Expectation{.what = std::move(what),
                     .arm = [condition = std::move(condition)] { return condition; },
                     .after = Duration(0),
                     .within = limit};
}

Expectation Over(std::string what, Duration period, std::function<std::function<bool()>()> arm) {
  return Expectation{
      .what = std::move(what), .arm = std::move(arm), .after = period, .within = Duration(0)};
}

}  // namespace nvmpath::sim
