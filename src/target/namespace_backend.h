// target::Backend — where a namespace's blocks live: memory (an anonymous mapping), a file or block
// device (through the reactor's asynchronous File), or null (reads zeroes, writes discarded).
//
// Thread: a backend belongs to the target's control reactor (reactors[0]); every call and every
// completion runs there. Completions of the memory and null backends run inline (inside the
// call); the file backend completes from the reactor loop. Callers must accept both.
// Invariant: size_bytes() is a multiple of the namespace block size (the target checks it).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "nvmpath/status.h"
#include "reactor/reactor.h"
#include "target/config.h"

namespace nvmpath::target {

class Backend {
 public:
  using Done = std::function<void(Status)>;
  virtual ~Backend() = default;

  virtual const char* kind_name() const = 0;
  virtual uint64_t size_bytes() const = 0;
  // REQUIRES: the range lies within size_bytes(); buffers stay valid until `done` runs.
  virtual void Read(uint64_t offset, std::span<uint8_t> out, Done done) = 0;
  virtual void Write(uint64_t offset, std::span<const uint8_t> in, Done done) = 0;
  virtual void WriteZeroes(uint64_t offset, uint64_t length, Done done) = 0;
  // After a deallocate the range reads as zeroes: memory zeroes it, a file gets a hole punched
  // (or zeroes written where its file system cannot punch one).
  virtual void Deallocate(uint64_t offset, uint64_t length, Done done) = 0;
  // Makes completed writes durable: a file is fdatasync'ed (the target advertises a volatile
  // write cache); memory and null have nothing to do.
  virtual void Flush(Done done) = 0;
  // Changes the size; the file backend truncates or extends its file. Errors: the file cannot
  // change length (a block device; named by path).
  virtual Status Resize(uint64_t size_bytes) = 0;
};

// Builds the backend a namespace config asks for. Errors: the file cannot be opened (named), or
// its size is not a multiple of the block size.
Result<std::shared_ptr<Backend>> MakeBackend(const NamespaceConfig& config, reactor::Reactor* r);

}  // namespace nvmpath::target
