#include "reactor/host_names.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>

namespace nvmpath::reactor {

Result<std::vector<std::string>> ResolveHostName(const std::string& name) {
  unsigned char probe[sizeof(in6_addr)];
  if (::inet_pton(AF_INET, name.c_str(), probe) == 1 ||
      ::inet_pton(AF_INET6, name.c_str(), probe) == 1) {
    return std::vector<std::string>{name};
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    return NotFound("host name '" + name + "' does not resolve: " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  std::vector<std::string> out;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* addr = nullptr;
    if (a->ai_family == AF_INET) {
      addr = &reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr;
    } else if (a->ai_family == AF_INET6) {
      addr = &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr;
    } else {
      continue;
    }
    if (::inet_ntop(a->ai_family, addr, text, sizeof(text)) == nullptr) continue;
    if (std::find(out.begin(), out.end(), text) == out.end()) out.emplace_back(text);
  }
  if (out.empty()) return NotFound("host name '" + name + "' has no IPv4 or IPv6 address");
  return out;
}

}  // namespace nvmpath::reactor
