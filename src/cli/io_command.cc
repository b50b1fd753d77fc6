#include "cli/io_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/connection_options.h"

namespace nvmpath::cli {
namespace {

struct IoArgs {
  ConnectionArgs conn;
  uint64_t lba = 0;
  std::optional<uint64_t> blocks;  // read
  std::string file;                // empty or "-": stdin / stdout
};

bool UsesStdio(const std::string& file) { return file.empty() || file == "-"; }

Result<std::vector<uint8_t>> ReadInput(const std::string& file) {
  FILE* f = UsesStdio(file) ? stdin : std::fopen(file.c_str(), "rb");
  if (f == nullptr) {
    return NotFound(fmt::format("--file '{}': {}", file, std::strerror(errno)));
  }
  std::vector<uint8_t> data;
  uint8_t chunk[65536];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) data.insert(data.end(), chunk, chunk + n);
  const bool failed = std::ferror(f) != 0;
  if (f != stdin) std::fclose(f);
  if (failed) return IoError(fmt::format("reading '{}' failed", UsesStdio(file) ? "stdin" : file));
  return data;
}

Status WriteOutput(const std::string& file, const std::vector<uint8_t>& data) {
  FILE* f = UsesStdio(file) ? stdout : std::fopen(file.c_str(), "wb");
  if (f == nullptr) {
    return InvalidArgument(fmt::format("--file '{}': {}", file, std::strerror(errno)));
  }
  const size_t n = std::fwrite(data.data(), 1, data.size(), f);
  const bool failed = n != data.size() || std::fflush(f) != 0;
  if (f != stdout && std::fclose(f) != 0) return IoError(fmt::format("closing '{}' failed", file));
  if (failed) return IoError(fmt::format("writing '{}' failed", UsesStdio(file) ? "stdout" : file));
  return Status::Ok();
}

int RunIo(const IoArgs& a, bool write) {
  const char* verb = write ? "io write" : "io read";
  std::vector<uint8_t> data;
  if (write) {
    auto in = ReadInput(a.file);
    if (!in.ok()) {
      PrintError(verb, in.status());
      return 2;
    }
    data = std::move(*in);
    if (data.empty()) {
      PrintError(verb, InvalidArgument(fmt::format("'{}' is empty: nothing to write",
                                                   UsesStdio(a.file) ? "stdin" : a.file)));
      return 2;
    }
  } else if (!a.blocks || *a.blocks == 0) {
    PrintError(verb, InvalidArgument("--blocks N (at least 1) says how much to read"));
    return 2;
  }
  auto client = ConnectClient(a.conn);
  if (!client.ok()) {
    PrintError(verb, client.status());
    return client.status().code() == Code::kInvalidArgument ? 2 : 1;
  }
  auto dev = OpenDevice(**client, a.conn);
  if (!dev.ok()) {
    PrintError(verb, dev.status());
    return 1;
  }
  Device& d = **dev;
  const uint32_t bs = d.block_size();
  if (write && data.size() % bs != 0) {
    PrintError(verb, InvalidArgument(fmt::format(
                         "'{}' is {} bytes, not a multiple of {}'s block size {}",
                         UsesStdio(a.file) ? "stdin" : a.file, data.size(), d.name(), bs)));
    return 2;
  }
  const uint64_t blocks = write ? data.size() / bs : *a.blocks;
  if (a.lba >= d.capacity_blocks() || blocks > d.capacity_blocks() - a.lba) {
    PrintError(verb, InvalidArgument(
                         fmt::format("LBA {} + {} blocks is past the end of {} ({} blocks of {} B)",
                                     a.lba, blocks, d.name(), d.capacity_blocks(), bs)));
    return 2;
  }
  if (!write) data.resize(blocks * bs);

  const auto start = std::chrono::steady_clock::now();
  const uint64_t piece_max = d.max_io_blocks();
  for (uint64_t done = 0; done < blocks;) {
    const uint32_t n = static_cast<uint32_t>(std::min(piece_max, blocks - done));
    std::span<uint8_t> piece(data.data() + done * bs, uint64_t{n} * bs);
    Status st = write ? d.Write(a.lba + done, n, piece) : d.Read(a.lba + done, n, piece);
    if (!st.ok()) {
      PrintError(verb, st.WithContext(fmt::format("LBA {}", a.lba + done)));
      return 1;
    }
    done += n;
  }
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();

  if (!write) {
    Status st = WriteOutput(a.file, data);
    if (!st.ok()) {
      PrintError(verb, st);
      return 1;
    }
  }
  // The summary goes to stdout unless the data itself went there.
  FILE* summary = !write && UsesStdio(a.file) ? stderr : stdout;
  if (a.conn.json) {
    nlohmann::json j = {{"op", write ? "write" : "read"},
                        {"device", d.name()},
                        {"lba", a.lba},
                        {"blocks", blocks},
                        {"bytes", blocks * bs},
                        {"us", us}};
    std::fprintf(summary, "%s\n", j.dump().c_str());
  } else {
    std::fprintf(summary, "%s %llu blocks (%llu bytes) %s %s LBA %llu in %.0f us\n",
                 write ? "wrote" : "read", static_cast<unsigned long long>(blocks),
                 static_cast<unsigned long long>(blocks * bs), write ? "to" : "from",
                 d.name().c_str(), static_cast<unsigned long long>(a.lba), us);
  }
  return 0;
}

}  // namespace

void AddIoCommand(CLI::App& app, int& exit_code) {
  CLI::App* io = app.add_subcommand("io", "One transfer between a namespace and a file");
  io->require_subcommand(1);
  io->footer(
      "Examples:\n"
      "  nvmpath io write --nqn nqn.2026-11.io.nvmpath:demo --path 127.0.0.1:4420 \\\n"
      "      --path 127.0.0.1:4421 --lba 0 --file data.bin\n"
      "  nvmpath io read --nqn nqn.2026-11.io.nvmpath:demo --path 127.0.0.1:4420 \\\n"
      "      --lba 0 --blocks 8 > out.bin");
  for (bool write : {false, true}) {
    auto args = std::make_shared<IoArgs>();
    CLI::App* v =
        io->add_subcommand(write ? "write" : "read",
                           write ? "Write a file (or stdin) to the namespace, from --lba on"
                                 : "Read --blocks blocks from --lba on to a file (or stdout)");
    v->footer(write ? "Example:\n  nvmpath io write --nqn nqn.2026-11.io.nvmpath:demo "
                      "--path 127.0.0.1:4420 --lba 16 --file data.bin\n"
                      "The file's size must be a multiple of the block size."
                    : "Example:\n  nvmpath io read --nqn nqn.2026-11.io.nvmpath:demo "
                      "--path 127.0.0.1:4420 --lba 16 --blocks 8 --file out.bin");
    v->add_option("--lba", args->lba, "First logical block")->capture_default_str();
    if (!write) {
      v->add_option("--blocks", args->blocks, "How many blocks to read")->required();
    }
    v->add_option(
        "--file", args->file,
        write ? "Data to write (default: stdin)" : "Where to put the data (default: stdout)");
    AddConnectionOptions(v, &args->conn);
    v->callback([args, write, &exit_code] { exit_code = RunIo(*args, write); });
  }
}

}  // namespace nvmpath::cli
