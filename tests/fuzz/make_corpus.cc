// Writes the seed corpus of pdu_decoder_fuzz into the directory given as argv[1]: valid PDUs of
// every type in each digest / padding mode, whole sessions, chunked feeds, a few malformed PDUs,
// and valid NVMe structures (ANA log, Discovery log, Identify, NS descriptors). Each file is one
// selector byte (see pdu_decoder_fuzz.cc) followed by the bytes.
//   usage: pdu_decoder_make_corpus tests/fuzz/corpus/pdu_decoder
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "nvme/ana_log.h"
#include "nvme/discovery_log.h"
#include "nvme/identify.h"
#include "tcp/pdu_encoder.h"

using namespace nvmpath;
using Bytes = std::vector<uint8_t>;

namespace {

std::filesystem::path g_dir;
int g_count = 0;

void Write(const std::string& name, uint8_t selector, const Bytes& body) {
  std::ofstream f(g_dir / name, std::ios::binary | std::ios::trunc);
  f.put(static_cast<char>(selector));
  f.write(reinterpret_cast<const char*>(body.data()), static_cast<std::streamsize>(body.size()));
  ++g_count;
}

uint8_t Sel(bool hdgst, bool ddgst, bool expect_ic = false, bool pda3 = false, uint8_t chunk = 0) {
  return static_cast<uint8_t>((hdgst ? 1 : 0) | (ddgst ? 2 : 0) | (expect_ic ? 4 : 0) |
                              (pda3 ? 8 : 0) | (chunk << 4));
}

Bytes Data(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i);
  return b;
}

Bytes ConnectCapsule(const tcp::EncodeOptions& o) {
  nvme::ConnectData cd;
  cd.subnqn = "nqn.2024-01.io.nvmpath:sub1";
  cd.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:0000";
  Bytes data(nvme::kConnectDataSize);
  cd.Encode(std::span<uint8_t, nvme::kConnectDataSize>(data));
  Bytes b;
  tcp::AppendCapsuleCmd(b, nvme::MakeConnect(1, {.qid = 0, .sqsize = 31, .kato_ms = 5000}), data, o);
  return b;
}

void PduSeeds() {
  struct Mode { const char* name; bool h, d, pda3; };
  for (Mode m : {Mode{"plain", false, false, false}, Mode{"hd", true, false, false},
                 Mode{"dd", false, true, false}, Mode{"hddd", true, true, false},
                 Mode{"hddd_pda3", true, true, true}}) {
    const tcp::EncodeOptions o{m.h, m.d, static_cast<uint8_t>(m.pda3 ? 3 : 0)};
    const uint8_t s = Sel(m.h, m.d, false, m.pda3);
    const std::string n = m.name;
    Bytes b;
    tcp::AppendCapsuleCmd(b, nvme::MakeWrite(2, 1, 0, 1, nvme::SglDescriptor::InCapsule(512)),
                          Data(512, 1), o);
    Write("capsule_cmd_incapsule_" + n, s, b);
    b.clear();
    tcp::AppendCapsuleCmd(b, nvme::MakeRead(4, 1, 0, 8, nvme::SglDescriptor::Transport(4096)), {}, o);
    Write("capsule_cmd_read_" + n, s, b);
    b.clear();
    tcp::AppendH2CData(b, {6, 1, 0, true}, Data(96, 2), o);
    Write("h2c_data_" + n, s, b);
    b.clear();
    nvme::Completion cqe;
    cqe.cid = 4;
    tcp::AppendCapsuleResp(b, cqe, o);
    Write("capsule_resp_" + n, s, b);
    b.clear();
    tcp::AppendC2HData(b, {4, 0, true, true}, Data(64, 3), o);
    Write("c2h_data_success_" + n, s, b);
    b.clear();
    tcp::AppendR2T(b, {6, 1, 0, 96}, o);
    Write("r2t_" + n, s, b);
    Write("connect_" + n, s, ConnectCapsule(o));
  }
  Bytes b;
  tcp::AppendIcReq(b, {0, 0, true, true, 0});
  Write("ic_req", Sel(false, false, true), b);
  b.clear();
  tcp::AppendIcResp(b, {0, 0, false, false, 0x400000});
  Write("ic_resp", Sel(false, false, true), b);
  b.clear();
  tcp::AppendTermReq(b, tcp::PduType::kH2CTermReq, {tcp::Fes::kInvalidHeaderField, 2}, Data(72, 9));
  Write("h2c_term_req", 0, b);
  b.clear();
  tcp::AppendTermReq(b, tcp::PduType::kC2HTermReq, {tcp::Fes::kHeaderDigestError, 0}, Data(24, 9));
  Write("c2h_term_req", 0, b);

  // Whole sessions: the IC exchange switches digests on, then commands follow.
  const tcp::EncodeOptions on{true, true, 0};
  b.clear();
  tcp::AppendIcReq(b, {0, 0, true, true, 0});
  Bytes connect = ConnectCapsule(on);
  b.insert(b.end(), connect.begin(), connect.end());
  tcp::AppendCapsuleCmd(b, nvme::MakeKeepAlive(2), {}, on);
  tcp::AppendH2CData(b, {2, 1, 0, true}, Data(32, 4), on);
  Write("session_host_to_controller", Sel(false, false, true), b);
  Write("session_host_to_controller_chunk9", Sel(false, false, true, false, 3), b);
  b.clear();
  tcp::AppendIcResp(b, {0, 0, true, true, 8192});
  nvme::Completion cqe;
  tcp::AppendCapsuleResp(b, cqe, on);
  tcp::AppendR2T(b, {2, 1, 0, 4096}, on);
  tcp::AppendC2HData(b, {3, 0, false, false}, Data(100, 5), on);
  tcp::AppendC2HData(b, {3, 100, true, false}, Data(28, 6), on);
  Write("session_controller_to_host", Sel(false, false, true), b);
  Write("session_controller_to_host_chunk1", Sel(false, false, true, false, 1), b);

  // Malformed ones.
  Bytes good;
  tcp::AppendH2CData(good, {1, 1, 0, true}, Data(16, 7), {});
  b = good;
  b[0] = 0x08;
  Write("bad_type", 0, b);
  b = good;
  b[2] = 28;
  Write("bad_hlen", 0, b);
  b = good;
  b[3] = 20;
  Write("bad_pdo", 0, b);
  b = good;
  b[4] = 0xFF;
  b[5] = 0xFF;
  b[6] = 0xFF;
  b[7] = 0x7F;
  Write("huge_plen", 0, b);
  b = good;
  b[16] = 15;
  Write("bad_datal", 0, b);
  b.clear();
  tcp::AppendC2HData(b, {1, 0, true, false}, Data(16, 7), {true, true, 0});
  b[1] = 0x08 | 0x03;
  Write("success_without_last", Sel(true, true), b);
  b.clear();
  tcp::AppendC2HData(b, {1, 0, true, false}, Data(16, 7), {true, true, 0});
  b[30] ^= 1;
  Write("bad_data_digest", Sel(true, true), b);
  b[24] ^= 1;
  Write("bad_header_digest", Sel(true, true), b);
  b.clear();
  tcp::AppendTermReq(b, tcp::PduType::kC2HTermReq, {}, Data(128, 1));
  b[4] = 200;
  b.resize(200, 0);
  Write("term_req_too_long", 0, b);
}

void NvmeSeeds() {
  nvme::AnaLog ana;
  ana.chgcnt = 1;
  ana.groups.push_back({1, 1, nvme::AnaState::kOptimized, {1, 2}});
  ana.groups.push_back({2, 1, nvme::AnaState::kInaccessible, {3}});
  Write("ana_log", 0x20, ana.Encode());  // selector doubles as ANAGRPMAX (| 1)

  nvme::DiscoveryLog disc;
  nvme::DiscoveryLogEntry e;
  e.subnqn = "nqn.2024-01.io.nvmpath:sub1";
  e.traddr = "127.0.0.1";
  e.trsvcid = "4420";
  disc.entries.push_back(e);
  Write("discovery_log", 0, disc.Encode());

  Bytes page(4096);
  nvme::IdentifyController ctrl;
  ctrl.subnqn = "nqn.2024-01.io.nvmpath:sub1";
  ctrl.cmic = nvme::kCmicAnaReporting;
  ctrl.anagrpmax = 32;
  ctrl.Encode(std::span<uint8_t, 4096>(page));
  Write("identify_ctrl", 0, page);
  nvme::IdentifyNamespace ns;
  ns.nsze = 1024;
  ns.lbaf[0].lbads = 9;
  ns.Encode(std::span<uint8_t, 4096>(page));
  Write("identify_ns", 0, page);
  nvme::NsIdentifiers ids;
  ids.nguid = std::array<uint8_t, 16>{1, 2, 3};
  ids.uuid = std::array<uint8_t, 16>{4, 5, 6};
  ids.csi = 0;
  ids.Encode(std::span<uint8_t, 4096>(page));
  Write("ns_descriptors", 0, Bytes(page.begin(), page.begin() + 64));
  const uint32_t nsids[] = {1, 2, 5};
  nvme::EncodeActiveNsList(nsids, std::span<uint8_t, 4096>(page));
  Write("active_ns_list", 0, Bytes(page.begin(), page.begin() + 32));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  g_dir = argv[1];
  std::filesystem::create_directories(g_dir);
  PduSeeds();
  NvmeSeeds();
  std::printf("wrote %d seeds to %s\n", g_count, argv[1]);
  return 0;
}
