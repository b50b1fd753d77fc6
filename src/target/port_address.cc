#include "target/port_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>

namespace nvmpath::target {
namespace {

bool IsNumeric(const std::string& a) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, a.c_str(), buf) == 1 || inet_pton(AF_INET6, a.c_str(), buf) == 1;
}

// RFC 1123: dot-separated labels of letters, digits and hyphens, 1..63 bytes each, no hyphen at
// either end, 253 bytes in all.
bool IsHostName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find('.', start);
    if (end == std::string_view::npos) end = s.size();
    const std::string_view label = s.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    if (!std::all_of(label.begin(), label.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
        })) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

}  // namespace

Result<std::string> NormalizeHost(std::string_view host) {
  std::string h(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
    unsigned char buf[sizeof(in6_addr)];
    if (inet_pton(AF_INET6, h.c_str(), buf) != 1) {
      return InvalidArgument("'" + std::string(host) + "': only an IPv6 address goes in brackets");
    }
    return h;
  }
  if (IsNumeric(h) || IsHostName(h)) return h;
  return InvalidArgument("'" + std::string(host) +
                         "' is not an IPv4 or IPv6 address or a host name");
}

Result<HostPort> ParseHostPort(std::string_view text) {
  const std::string t(text);
  size_t colon = std::string::npos;
  if (!t.empty() && t.front() == '[') {
    const size_t close = t.find(']');
    if (close == std::string::npos) return InvalidArgument("'" + t + "': no closing ']'");
    if (close + 1 >= t.size() || t[close + 1] != ':') {
      return InvalidArgument("'" + t + "': no :PORT after the address (as in [::1]:4420)");
    }
    colon = close + 1;
  } else {
    colon = t.rfind(':');
    if (colon == std::string::npos) {
      return InvalidArgument("'" + t + "': no :PORT (as in 127.0.0.1:4420)");
    }
    if (t.find(':') != colon) {
      // Several colons and no brackets: an IPv6 address, with or without a port after it.
      if (IsNumeric(t.substr(0, colon))) {
        return InvalidArgument("'" + t + "': an IPv6 address goes in brackets, as [" +
                               t.substr(0, colon) + "]:" + t.substr(colon + 1));
      }
      return InvalidArgument("'" + t + "': no :PORT (as in [" + t + "]:4420)");
    }
  }
  const std::string port_text = t.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) ||
      std::stoul(port_text) > 65535) {
    return InvalidArgument("'" + t + "': '" + port_text + "' is not a TCP port (0..65535)");
  }
  if (colon == 0) return InvalidArgument("'" + t + "': no address before :" + port_text);
  auto host = NormalizeHost(t.substr(0, colon));
  if (!host.ok()) return host.status();
  return HostPort{*host, static_cast<uint16_t>(std::stoul(port_text))};
}

bool IsIpv6Address(std::string_view numeric) { return numeric.find(':') != std::string_view::npos; }

}  // namespace nvmpath::target
