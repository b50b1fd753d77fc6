// exports::HeadTable — the heads a running host exports, by their stable short names.
//
// A head of subsystem S (its index in the host's config, from 0) and namespace NSID is named
// "nvmpath<S>n<NSID>", as Linux names nvme0n1. The name depends only on the config and the NSID,
// so it survives every path loss and return, and a namespace that appears after start gets its
// name the first time it is looked up.
//
// The table resolves names through the host's Clients (include/nvmpath/client.h); it never
// copies a Device: Devices belong to their Client and stay valid until the Client is destroyed,
// which the host does only after every export is closed. A subsystem connected while the host
// runs (host-ctl connect) is added at the end, so no head's name ever changes; the list of
// clients is guarded by a mutex (control calls only).
//
// Thread: any. List and Find are control calls: they may wait for the home I/O thread (never
// for the caller's own), so they belong in a handshake or a directory listing, not on the data
// path.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nvmpath/client.h"

namespace nvmpath::exports {

struct HeadId {
  unsigned subsystem = 0;
  uint32_t nsid = 0;
  friend bool operator==(const HeadId&, const HeadId&) = default;
};

// "nvmpath0n1".
std::string HeadName(HeadId id);
// The inverse of HeadName; nullopt for anything else ("nvmpath0n0", "nvmpath01n1", "nvme0n1").
std::optional<HeadId> ParseHeadName(std::string_view name);

struct ExportedHead {
  std::string name;  // "nvmpath0n1"
  HeadId id;
  Device* device = nullptr;
};

class HeadTable {
 public:
  // clients[S] is subsystem S. REQUIRES: they outlive every use of the table (nullptr entries
  // are allowed: a subsystem not connected).
  explicit HeadTable(std::vector<Client*> clients) : clients_(std::move(clients)) {}

  // Adds subsystem S = the number of subsystems so far; returns S. REQUIRES: as above.
  unsigned Add(Client* client);

  // Every head of every subsystem now, ordered by (subsystem, NSID).
  std::vector<ExportedHead> List() const;
  // The head called `name`; the empty name is the first head of List(). Errors: kNotFound
  // naming the name and the heads there are.
  Result<ExportedHead> Find(std::string_view name) const;

 private:
  // A copy of the clients (the list only grows; each Client outlives the table's users).
  std::vector<Client*> clients() const;

  mutable std::mutex mu_;
  std::vector<Client*> clients_;  // guarded by mu_
};

}  // namespace nvmpath::exports
