#include "host/numa_node.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <charconv>
#include <fstream>

namespace nvmpath::host {

std::string InterfaceOfAddress(std::string_view local_address) {
  ifaddrs* list = nullptr;
  if (local_address.empty() || ::getifaddrs(&list) != 0) return "";
  std::string found;
  for (ifaddrs* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    const int family = i->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    const void* addr = family == AF_INET6
                           ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr)
                           : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr);
    char text[INET6_ADDRSTRLEN] = {};
    if (::inet_ntop(family, addr, text, sizeof(text)) != nullptr && local_address == text) {
      found = i->ifa_name;
    }
  }
  ::freeifaddrs(list);
  return found;
}

int NumaNodeOfInterface(std::string_view interface, const std::string& sysfs_root) {
  if (interface.empty() || interface.find('/') != std::string_view::npos) return kNoNumaNode;
  std::ifstream in(sysfs_root + "/class/net/" + std::string(interface) + "/device/numa_node");
  std::string text;
  if (!(in >> text)) return kNoNumaNode;
  int node = kNoNumaNode;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), node);
  if (ec != std::errc() || end != text.data() + text.size() || node < 0) return kNoNumaNode;
  return node;
}

int NumaNodeOfLocalAddress(std::string_view local_address) {
  return NumaNodeOfInterface(InterfaceOfAddress(local_address));
}

}  // namespace nvmpath::host
