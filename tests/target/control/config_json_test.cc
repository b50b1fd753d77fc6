// The target's JSON config parser: every rule in docs/target-config.md has a test here that breaks
// exactly one field of a valid config and asserts the whole error line, field path first, because
// that line is all a user gets. Also: ToJson → Parse round trips, and the shipped example parses.
#include "target/control/config_json.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace nvmpath::target::control {
namespace {

using Json = nlohmann::json;

Json ValidConfig() {
  return Json::parse(R"({
    "ports": [
      {"id": 1, "address": "127.0.0.1", "port": 4420},
      {"id": 2, "address": "127.0.0.1", "port": 4421, "enabled": false}
    ],
    "subsystems": [{
      "nqn": "nqn.2026-11.io.nvmpath:demo",
      "allowed_hosts": ["nqn.2014-08.org.nvmexpress:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427"],
      "mdts_pages": 5,
      "namespaces": [
        {"nsid": 1, "size": "64MiB"},
        {"nsid": 2, "backend": "null", "size": 1048576, "block_size": 4096, "ana_group": 2,
         "uuid": "4f1c0a2e-9b7d-4c3a-8e21-6d5f0b9a7c13",
         "nguid": "00112233445566778899aabbccddeeff", "eui64": "0011223344556677"},
        {"nsid": 7, "backend": "file", "path": "/tmp/ns7.img"}
      ]
    }],
    "ana": [{"port": 2, "group": 2, "state": "inaccessible"}],
    "cqt_ms": 250,
    "control_socket": "/tmp/t.sock"
  })");
}

// Parses `j` and returns the error message, or "OK".
std::string ErrorOf(const Json& j) {
  auto c = ParseTargetConfig(j.dump());
  if (c.ok()) return "OK";
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  return c.status().message();
}

// The error after setting the field at JSON pointer `ptr` to `value`.
std::string ErrorWith(const std::string& ptr, const Json& value) {
  Json j = ValidConfig();
  j[Json::json_pointer(ptr)] = value;
  return ErrorOf(j);
}

std::string ErrorWithout(const std::string& ptr) {
  Json j = ValidConfig();
  Json::json_pointer p(ptr);
  j[p.parent_pointer()].erase(p.back());
  return ErrorOf(j);
}

TEST(ConfigJson, ValidConfigParsesWithEveryField) {
  auto c = ParseTargetConfig(ValidConfig().dump());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->ports.size(), 2u);
  EXPECT_EQ(c->ports[1].id, 2);
  EXPECT_EQ(c->ports[1].port, 4421);
  EXPECT_FALSE(c->ports[1].enabled);
  EXPECT_TRUE(c->ports[0].enabled);
  ASSERT_EQ(c->subsystems.size(), 1u);
  const SubsystemConfig& s = c->subsystems[0];
  EXPECT_EQ(s.nqn, "nqn.2026-11.io.nvmpath:demo");
  EXPECT_EQ(s.mdts_pages, 5u);
  ASSERT_EQ(s.namespaces.size(), 3u);
  EXPECT_EQ(s.namespaces[0].size_bytes, 64ull << 20);
  EXPECT_EQ(s.namespaces[0].backend, BackendKind::kMemory);
  EXPECT_EQ(s.namespaces[1].backend, BackendKind::kNull);
  EXPECT_EQ(s.namespaces[1].block_size, 4096u);
  EXPECT_EQ(s.namespaces[1].ana_group, 2u);
  ASSERT_TRUE(s.namespaces[1].uuid.has_value());
  EXPECT_EQ((*s.namespaces[1].uuid)[0], 0x4f);
  EXPECT_EQ((*s.namespaces[1].uuid)[15], 0x13);
  EXPECT_EQ((*s.namespaces[1].nguid)[15], 0xff);
  EXPECT_EQ((*s.namespaces[1].eui64)[7], 0x77);
  EXPECT_EQ(s.namespaces[2].backend, BackendKind::kFile);
  EXPECT_EQ(s.namespaces[2].path, "/tmp/ns7.img");
  ASSERT_EQ(c->ana.size(), 1u);
  EXPECT_EQ(c->ana[0].state, nvme::AnaState::kInaccessible);
  EXPECT_EQ(c->cqt, std::chrono::milliseconds(250));
  EXPECT_EQ(c->control_socket, "/tmp/t.sock");
}

TEST(ConfigJson, DefaultsComeFromTargetConfig) {
  auto c = ParseTargetConfig(R"({"ports":[{"id":3}],"subsystems":[]})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  TargetConfig defaults;
  EXPECT_EQ(c->ports[0].address, "127.0.0.1");
  EXPECT_EQ(c->ports[0].port, 4420);
  EXPECT_EQ(c->io_queues_max, defaults.io_queues_max);
  EXPECT_EQ(c->queue_size_max, defaults.queue_size_max);
  EXPECT_EQ(c->discovery_nqn, defaults.discovery_nqn);
  EXPECT_TRUE(c->control_socket.empty());
}

TEST(ConfigJson, MalformedJsonGivesLineAndColumn) {
  auto c = ParseTargetConfig("{\n  \"ports\": [\n    {\"id\": 1,}\n  ]\n}");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind("malformed JSON at line 3, column 14: ", 0), 0u)
      << c.status().message();
  auto empty = ParseTargetConfig("  ");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("the text is empty"), std::string::npos);
}

TEST(ConfigJson, TopLevelMustBeAnObject) {
  EXPECT_EQ(ErrorOf(Json::array()), "expected a JSON object at the top level, got []");
}

TEST(ConfigJson, DuplicateJsonKeyIsNamed) {
  auto c = ParseTargetConfig(R"({"ports":[{"id":1},{"id":2,"port":1,"port":2}],"subsystems":[]})");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "ports[1].port: duplicate field (each field may appear once)");
}

TEST(ConfigJson, UnknownFieldsSuggestTheNearestKnownOne) {
  EXPECT_EQ(ErrorWith("/ports/0/adress", "127.0.0.1"),
            "ports[0].adress: unknown field (did you mean \"address\"?)");
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/1/blocksize", 512),
            "subsystems[0].namespaces[1].blocksize: unknown field (did you mean \"block_size\"?)");
  EXPECT_EQ(ErrorWith("/io_queue_max", 4),
            "io_queue_max: unknown field (did you mean \"io_queues_max\"?)");
  EXPECT_EQ(ErrorWith("/ana/0/colour", 1),
            "ana[0].colour: unknown field (known: port, group, state)");
}

TEST(ConfigJson, NsidMustBeAnIntegerInRange) {
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/1/nsid", "x"),
            "subsystems[0].namespaces[1].nsid: expected an integer 1..4294967294, got \"x\"");
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/1/nsid", 0),
            "subsystems[0].namespaces[1].nsid: expected an integer 1..4294967294, got 0");
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/1/nsid", 4294967295ull),
            "subsystems[0].namespaces[1].nsid: expected an integer 1..4294967294, got 4294967295");
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/1/nsid", 1.5),
            "subsystems[0].namespaces[1].nsid: expected an integer 1..4294967294, got 1.5");
  EXPECT_EQ(ErrorWithout("/subsystems/0/namespaces/0/nsid"),
            "subsystems[0].namespaces[0].nsid: missing (1..4294967294)");
}

TEST(ConfigJson, PortNumberMustBeATcpPort) {
  EXPECT_EQ(ErrorWith("/ports/1/port", 70000), "ports[1].port: 70000 is not a TCP port");
  EXPECT_EQ(ErrorWith("/ports/1/port", -1), "ports[1].port: -1 is not a TCP port");
  EXPECT_EQ(ErrorWith("/ports/1/port", "4420"),
            "ports[1].port: expected an integer 0..65535, got \"4420\"");
}

TEST(ConfigJson, PortFieldsAreChecked) {
  EXPECT_EQ(ErrorWith("/ports/0/id", 0), "ports[0].id: expected an integer 1..65535, got 0");
  EXPECT_EQ(ErrorWithout("/ports/0/id"), "ports[0].id: missing (a port ID 1..65535)");
  EXPECT_EQ(ErrorWith("/ports/0/address", "a b"),
            "ports[0].address: 'a b' is not an IPv4 or IPv6 address or a host name");
  EXPECT_EQ(ErrorWith("/ports/0/address", "[127.0.0.1]"),
            "ports[0].address: '[127.0.0.1]': only an IPv6 address goes in brackets");
  EXPECT_EQ(ErrorWith("/ports/0/address", "localhost"), "OK");  // looked up when the port starts
  EXPECT_EQ(ErrorWith("/ports/0/address", "[::1]"), "OK");
  EXPECT_EQ(ErrorWith("/ports/0/enabled", "yes"),
            "ports[0].enabled: expected true or false, got \"yes\"");
  EXPECT_EQ(ErrorWith("/ports/0", 5), "ports[0]: expected an object, got 5");
  EXPECT_EQ(ErrorWith("/ports", Json::array()),
            "ports: expected a non-empty array of ports, got []");
  EXPECT_EQ(ErrorWithout("/ports"), "ports: missing (at least one port)");
  EXPECT_EQ(ErrorWith("/ports/0/address", "::1"), "OK");
}

TEST(ConfigJson, DuplicatePortIdsAndEndpointsAreRejected) {
  EXPECT_EQ(ErrorWith("/ports/1/id", 1), "ports[1].id: 1 is already used by ports[0]");
  EXPECT_EQ(ErrorWith("/ports/1/port", 4420),
            "ports[1].port: 127.0.0.1:4420 is already used by ports[0]");
  // Port 0 means "any free port": several ports may ask for it.
  Json j = ValidConfig();
  j["ports"][0]["port"] = 0;
  j["ports"][1]["port"] = 0;
  EXPECT_EQ(ErrorOf(j), "OK");
}

TEST(ConfigJson, NqnFormatIsChecked) {
  EXPECT_EQ(ErrorWith("/subsystems/0/nqn", "iqn.2026-11.io.nvmpath:demo"),
            "subsystems[0].nqn: \"iqn.2026-11.io.nvmpath:demo\" is not an NQN (it must start with "
            "\"nqn.\", e.g. \"nqn.2026-11.io.nvmpath:demo\")");
  EXPECT_EQ(ErrorWith("/subsystems/0/nqn", "nqn." + std::string(220, 'a')),
            "subsystems[0].nqn: is 224 bytes; an NQN is at most 223");
  EXPECT_EQ(ErrorWith("/subsystems/0/nqn", "nqn." + std::string(219, 'a')), "OK");
  EXPECT_EQ(ErrorWith("/subsystems/0/nqn", "nqn.2026-11.io nvmpath"),
            "subsystems[0].nqn: \"nqn.2026-11.io nvmpath\" contains a space or control character");
  EXPECT_EQ(ErrorWith("/subsystems/0/allowed_hosts/0", "host1"),
            "subsystems[0].allowed_hosts[0]: \"host1\" is not an NQN (it must start with \"nqn.\", "
            "e.g. \"nqn.2026-11.io.nvmpath:demo\")");
  EXPECT_EQ(ErrorWith("/discovery_nqn", "discovery"),
            "discovery_nqn: \"discovery\" is not an NQN (it must start with \"nqn.\", e.g. "
            "\"nqn.2026-11.io.nvmpath:demo\")");
  EXPECT_EQ(ErrorWith("/subsystems/0/nqn", "nqn.2014-08.org.nvmexpress.discovery"),
            "subsystems[0].nqn: is the discovery subsystem's NQN");
  EXPECT_EQ(ErrorWithout("/subsystems/0/nqn"),
            "subsystems[0].nqn: missing (e.g. \"nqn.2026-11.io.nvmpath:demo\")");
}

TEST(ConfigJson, DuplicateNqnsAndHostsAreRejected) {
  Json j = ValidConfig();
  Json second = {{"nqn", "nqn.2026-11.io.nvmpath:demo"}};
  j["subsystems"].push_back(second);
  EXPECT_EQ(ErrorOf(j),
            "subsystems[1].nqn: \"nqn.2026-11.io.nvmpath:demo\" is already used by subsystems[0]");
  Json k = ValidConfig();
  k["subsystems"][0]["allowed_hosts"].push_back(k["subsystems"][0]["allowed_hosts"][0]);
  EXPECT_EQ(ErrorOf(k).rfind("subsystems[0].allowed_hosts[1]: \"nqn.2014-08", 0), 0u) << ErrorOf(k);
  EXPECT_NE(ErrorOf(k).find("is listed twice"), std::string::npos);
}

TEST(ConfigJson, DuplicateNsidsAreRejected) {
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/2/nsid", 2),
            "subsystems[0].namespaces[2].nsid: 2 is already used by subsystems[0].namespaces[1]");
  // The same NSID in two subsystems is fine: NSIDs are per subsystem.
  Json j = ValidConfig();
  j["subsystems"].push_back(
      {{"nqn", "nqn.2026-11.io.nvmpath:other"}, {"namespaces", {{{"nsid", 1}}}}});
  EXPECT_EQ(ErrorOf(j), "OK");
}

TEST(ConfigJson, SubsystemFieldsAreChecked) {
  EXPECT_EQ(ErrorWith("/subsystems/0/serial", std::string(21, '1')),
            "subsystems[0].serial: expected 1..20 bytes, got 21");
  EXPECT_EQ(ErrorWith("/subsystems/0/model", ""),
            "subsystems[0].model: expected 1..40 bytes, got 0");
  EXPECT_EQ(ErrorWith("/subsystems/0/mdts_pages", 14),
            "subsystems[0].mdts_pages: expected an integer 0..13, got 14");
  EXPECT_EQ(ErrorWith("/subsystems/0/allowed_hosts", "nqn.a"),
            "subsystems[0].allowed_hosts: expected an array of host NQNs, got \"nqn.a\"");
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces", Json::object()),
            "subsystems[0].namespaces: expected an array, got {}");
  EXPECT_EQ(ErrorWithout("/subsystems"), "subsystems: missing (an array, may be empty)");
}

TEST(ConfigJson, BlockSizeIsAPowerOfTwoFrom512To4096) {
  for (int bad : {0, 256, 1000, 8192}) {
    EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/0/block_size", bad),
              "subsystems[0].namespaces[0].block_size: " + std::to_string(bad) +
                  " is not a power of two 512..4096");
  }
  for (int good : {512, 1024, 2048, 4096}) {
    EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/0/block_size", good), "OK") << good;
  }
}

TEST(ConfigJson, SizeAcceptsBytesAndBinaryUnits) {
  struct Case {
    Json size;
    uint64_t bytes;
  };
  for (const Case& c :
       {Case{4096, 4096}, Case{"4096", 4096}, Case{"64MiB", 64ull << 20}, Case{"1GiB", 1ull << 30},
        Case{"512K", 512ull << 10}, Case{"2T", 2ull << 40}, Case{"1 GiB", 1ull << 30}}) {
    Json j = ValidConfig();
    j["subsystems"][0]["namespaces"][0]["size"] = c.size;
    auto parsed = ParseTargetConfig(j.dump());
    ASSERT_TRUE(parsed.ok()) << c.size << ": " << parsed.status().ToString();
    EXPECT_EQ(parsed->subsystems[0].namespaces[0].size_bytes, c.bytes) << c.size;
  }
}

TEST(ConfigJson, SizeErrorsNameTheField) {
  const std::string path = "subsystems[0].namespaces[0].size: ";
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/0/size", "64MB"),
            path + "unknown unit \"MB\" in \"64MB\" (use B, KiB, MiB, GiB or TiB)");
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/0/size", "big"),
            path + "\"big\" is not a size (examples: 4096, \"64MiB\", \"1GiB\")");
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/0/size", "99999999999TiB"),
            path + "\"99999999999TiB\" is too large");
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/0/size", 1000),
            path + "1000 bytes is not a multiple of block_size 512");
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/1/size", "1MiB"), "OK");
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/1/size", 1048576 + 512),
            "subsystems[0].namespaces[1].size: 1049088 bytes is not a multiple of block_size 4096");
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/0/size", 0), path + "must be more than 0");
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/0/size", -5),
            path + "expected a size in bytes or a string like \"64MiB\", got -5");
}

TEST(ConfigJson, BackendRules) {
  EXPECT_EQ(
      ErrorWith("/subsystems/0/namespaces/0/backend", "ramdisk"),
      "subsystems[0].namespaces[0].backend: \"ramdisk\" is not a backend (memory, file, null)");
  EXPECT_EQ(
      ErrorWith("/subsystems/0/namespaces/2/size", "1GiB"),
      "subsystems[0].namespaces[2].size: a file backend takes the file's size; leave \"size\" "
      "out");
  EXPECT_EQ(ErrorWithout("/subsystems/0/namespaces/2/path"),
            "subsystems[0].namespaces[2].path: missing (the file backend's file)");
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/0/path", "/tmp/x"),
            "subsystems[0].namespaces[0].path: only a file backend has a path (backend is "
            "\"memory\")");
}

TEST(ConfigJson, IdentifiersAreChecked) {
  const std::string ns = "subsystems[0].namespaces[1].";
  const std::string uuid_form =
      "expected a UUID like \"4f1c0a2e-9b7d-4c3a-8e21-6d5f0b9a7c13\", got ";
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/1/uuid", "4f1c0a2e9b7d4c3a8e216d5f0b9a7c13"),
            ns + "uuid: " + uuid_form + "\"4f1c0a2e9b7d4c3a8e216d5f0b9a7c13\"");
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/1/uuid", "4f1c0a2e-9b7d-4c3a-8e21-6d5f0b9a7cZZ"),
            ns + "uuid: " + uuid_form + "\"4f1c0a2e-9b7d-4c3a-8e21-6d5f0b9a7cZZ\"");
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/1/uuid", "00000000-0000-0000-0000-000000000000"),
            ns + "uuid: all zeros means no identifier; leave the field out");
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/1/nguid", "0011"),
            ns + "nguid: expected 32 hex digits, got \"0011\"");
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/1/eui64", 12),
            ns + "eui64: expected a string, got 12");
  EXPECT_EQ(ErrorWith("/subsystems/0/namespaces/1/eui64", "00112233445566zz"),
            ns + "eui64: expected 16 hex digits, got \"00112233445566zz\"");
}

TEST(ConfigJson, AnaEntriesAreChecked) {
  EXPECT_EQ(ErrorWith("/ana/0/state", "optimised"),
            "ana[0].state: \"optimised\" is not an ANA state (optimized, non-optimized, "
            "inaccessible, persistent-loss, change)");
  EXPECT_EQ(ErrorWith("/ana/0/port", 9), "ana[0].port: no port has id 9");
  EXPECT_EQ(ErrorWith("/ana/0/group", 0), "ana[0].group: expected an integer 1..32, got 0");
  EXPECT_EQ(ErrorWithout("/ana/0/state"), "ana[0].state: missing");
  Json j = ValidConfig();
  j["ana"].push_back({{"port", 2}, {"group", 2}, {"state", "optimized"}});
  EXPECT_EQ(ErrorOf(j), "ana[1]: port 2 group 2 is already set by ana[0]");
  for (const char* state :
       {"optimized", "non-optimized", "inaccessible", "persistent-loss", "change"}) {
    EXPECT_EQ(ErrorWith("/ana/0/state", state), "OK") << state;
  }
}

TEST(ConfigJson, AnaGroupIsBoundedByAnaGroupsMax) {
  Json j = ValidConfig();
  j["ana_groups_max"] = 4;
  j["subsystems"][0]["namespaces"][1]["ana_group"] = 5;
  EXPECT_EQ(ErrorOf(j), "subsystems[0].namespaces[1].ana_group: expected an integer 1..4, got 5");
  j["subsystems"][0]["namespaces"][1]["ana_group"] = 4;
  EXPECT_EQ(ErrorOf(j), "OK");
}

TEST(ConfigJson, TargetLimitsAreChecked) {
  EXPECT_EQ(ErrorWith("/io_queues_max", 0), "io_queues_max: expected an integer 1..65535, got 0");
  EXPECT_EQ(ErrorWith("/queue_size_max", 1), "queue_size_max: expected an integer 2..65535, got 1");
  EXPECT_EQ(ErrorWith("/in_capsule_bytes", 100), "in_capsule_bytes: 100 is not a multiple of 16");
  EXPECT_EQ(ErrorWith("/max_h2c_data", 1024),
            "max_h2c_data: expected an integer 4096..4294967295, got 1024");
  EXPECT_EQ(ErrorWith("/max_h2c_data", 4098), "max_h2c_data: 4098 is not a multiple of 4");
  EXPECT_EQ(ErrorWith("/cqt_ms", 70000), "cqt_ms: expected an integer 0..65535, got 70000");
  EXPECT_EQ(ErrorWith("/control_socket", std::string(200, 's')),
            "control_socket: a Unix socket path is at most 107 bytes");
  EXPECT_EQ(ErrorWith("/ana_groups_max", 0), "ana_groups_max: expected an integer 1..1024, got 0");
}

// Field-by-field equality (TargetConfig has no operator==).
void ExpectSameConfig(const TargetConfig& a, const TargetConfig& b) {
  ASSERT_EQ(a.ports.size(), b.ports.size());
  for (size_t i = 0; i < a.ports.size(); ++i) {
    EXPECT_EQ(a.ports[i].id, b.ports[i].id);
    EXPECT_EQ(a.ports[i].address, b.ports[i].address);
    EXPECT_EQ(a.ports[i].port, b.ports[i].port);
    EXPECT_EQ(a.ports[i].enabled, b.ports[i].enabled);
  }
  ASSERT_EQ(a.subsystems.size(), b.subsystems.size());
  for (size_t i = 0; i < a.subsystems.size(); ++i) {
    const SubsystemConfig& x = a.subsystems[i];
    const SubsystemConfig& y = b.subsystems[i];
    EXPECT_EQ(x.nqn, y.nqn);
    EXPECT_EQ(x.serial, y.serial);
    EXPECT_EQ(x.model, y.model);
    EXPECT_EQ(x.allowed_hosts, y.allowed_hosts);
    EXPECT_EQ(x.mdts_pages, y.mdts_pages);
    ASSERT_EQ(x.namespaces.size(), y.namespaces.size());
    for (size_t n = 0; n < x.namespaces.size(); ++n) {
      const NamespaceConfig& p = x.namespaces[n];
      const NamespaceConfig& q = y.namespaces[n];
      EXPECT_EQ(p.nsid, q.nsid);
      EXPECT_EQ(p.backend, q.backend);
      if (p.backend != BackendKind::kFile) {
        EXPECT_EQ(p.size_bytes, q.size_bytes);
      }
      EXPECT_EQ(p.path, q.path);
      EXPECT_EQ(p.block_size, q.block_size);
      EXPECT_EQ(p.ana_group, q.ana_group);
      EXPECT_EQ(p.uuid, q.uuid);
      EXPECT_EQ(p.nguid, q.nguid);
      EXPECT_EQ(p.eui64, q.eui64);
    }
  }
  ASSERT_EQ(a.ana.size(), b.ana.size());
  for (size_t i = 0; i < a.ana.size(); ++i) {
    EXPECT_EQ(a.ana[i].port_id, b.ana[i].port_id);
    EXPECT_EQ(a.ana[i].group, b.ana[i].group);
    EXPECT_EQ(a.ana[i].state, b.ana[i].state);
  }
  EXPECT_EQ(a.discovery_nqn, b.discovery_nqn);
  EXPECT_EQ(a.ana_groups_max, b.ana_groups_max);
  EXPECT_EQ(a.io_queues_max, b.io_queues_max);
  EXPECT_EQ(a.queue_size_max, b.queue_size_max);
  EXPECT_EQ(a.in_capsule_bytes, b.in_capsule_bytes);
  EXPECT_EQ(a.max_h2c_data, b.max_h2c_data);
  EXPECT_EQ(a.cqt, b.cqt);
  EXPECT_EQ(a.control_socket, b.control_socket);
}

TEST(ConfigJson, ToJsonThenParseRoundTrips) {
  auto first = ParseTargetConfig(ValidConfig().dump());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  first->io_queues_max = 3;
  first->queue_size_max = 64;
  first->in_capsule_bytes = 4096;
  first->max_h2c_data = 65536;
  first->subsystems[0].namespaces[0].size_bytes = 12345 * 512;  // no unit divides it
  Json j = ToJson(*first);
  auto second = ParseTargetConfig(j.dump(2));
  ASSERT_TRUE(second.ok()) << second.status().ToString() << "\n" << j.dump(2);
  ExpectSameConfig(*first, *second);
  EXPECT_EQ(ToJson(*second), j);
  EXPECT_EQ(j["subsystems"][0]["namespaces"][1]["uuid"], "4f1c0a2e-9b7d-4c3a-8e21-6d5f0b9a7c13");
}

TEST(ConfigJson, ToJsonOfADefaultBuiltConfigParses) {
  TargetConfig c;
  c.ports.push_back(PortConfig{});
  c.subsystems.push_back(SubsystemConfig{.nqn = "nqn.2026-11.io.nvmpath:code"});
  c.subsystems[0].namespaces.push_back(NamespaceConfig{.nsid = 9, .size_bytes = 1ull << 30});
  auto back = ParseTargetConfig(ToJson(c).dump());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameConfig(c, *back);
}

TEST(ConfigJson, ShippedExampleParses) {
  std::string path = std::string(NVMPATH_EXAMPLES_DIR) + "/two-ports.json";
  auto c = LoadTargetConfig(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->ports.size(), 2u);
  EXPECT_EQ(c->ports[0].port, 4420);
  EXPECT_EQ(c->ports[1].port, 4421);
  ASSERT_EQ(c->subsystems.size(), 1u);
  ASSERT_EQ(c->subsystems[0].namespaces.size(), 1u);
  EXPECT_EQ(c->subsystems[0].namespaces[0].size_bytes, 64ull << 20);
  EXPECT_EQ(c->control_socket, "/tmp/nvmpath-target.sock");
}

TEST(ConfigJson, LoadNamesTheFile) {
  auto missing = LoadTargetConfig("/nonexistent/nvmpath.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("open /nonexistent/nvmpath.json"), std::string::npos)
      << missing.status().message();
  std::string path = ::testing::TempDir() + "/bad-config.json";
  std::ofstream(path) << R"({"ports":[{"id":1,"port":70000}],"subsystems":[]})";
  auto bad = LoadTargetConfig(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), path + ": ports[0].port: 70000 is not a TCP port");
}

}  // namespace
}  // namespace nvmpath::target::control
