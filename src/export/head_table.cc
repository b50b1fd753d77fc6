#include "export/head_table.h"

#include <fmt/format.h>

#include <charconv>

namespace nvmpath::exports {
namespace {

// A decimal number without sign or leading zero ("0" itself is allowed).
std::optional<uint64_t> ParseCanonicalDecimal(std::string_view s) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string HeadName(HeadId id) { return fmt::format("nvmpath{}n{}", id.subsystem, id.nsid); }

std::optional<HeadId> ParseHeadName(std::string_view name) {
  constexpr std::string_view kPrefix = "nvmpath";
  if (!name.starts_with(kPrefix)) return std::nullopt;
  name.remove_prefix(kPrefix.size());
  const size_t n = name.find('n');
  if (n == std::string_view::npos) return std::nullopt;
  auto s = ParseCanonicalDecimal(name.substr(0, n));
  auto nsid = ParseCanonicalDecimal(name.substr(n + 1));
  if (!s || !nsid || *s > 0xFFFF || *nsid == 0 || *nsid > 0xFFFFFFFEull) return std::nullopt;
  return HeadId{static_cast<unsigned>(*s), static_cast<uint32_t>(*nsid)};
}

unsigned HeadTable::Add(Client* client) {
  std::lock_guard<std::mutex> lock(mu_);
  clients_.push_back(client);
  return static_cast<unsigned>(clients_.size() - 1);
}

std::vector<Client*> HeadTable::clients() const {
  std::lock_guard<std::mutex> lock(mu_);
  return clients_;
}

std::vector<ExportedHead> HeadTable::List() const {
  std::vector<ExportedHead> out;
  const std::vector<Client*> clients = this->clients();
  for (unsigned s = 0; s < clients.size(); ++s) {
    Client* c = clients[s];
    if (c == nullptr) continue;
    for (uint32_t nsid : c->nsids()) {
      auto dev = c->Open(nsid);
      if (!dev.ok()) continue;  // removed between the two calls
      out.push_back({HeadName({s, nsid}), {s, nsid}, *dev});
    }
  }
  return out;
}

Result<ExportedHead> HeadTable::Find(std::string_view name) const {
  auto not_found = [&] {
    std::string names;
    for (const auto& h : List()) names += (names.empty() ? "" : ", ") + h.name;
    return NotFound(fmt::format("no head called \"{}\" (heads: {})", name,
                                names.empty() ? "none" : names));
  };
  if (name.empty()) {
    auto all = List();
    if (all.empty()) return not_found();
    return all.front();
  }
  auto id = ParseHeadName(name);
  const std::vector<Client*> clients = this->clients();
  if (!id || id->subsystem >= clients.size() || clients[id->subsystem] == nullptr) {
    return not_found();
  }
  auto dev = clients[id->subsystem]->Open(id->nsid);
  if (!dev.ok()) return not_found();
  return ExportedHead{std::string(name), *id, *dev};
}

}  // namespace nvmpath::exports
