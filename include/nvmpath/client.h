// The nvmpath Client API: an NVMe/TCP subsystem reached over several paths, each shared
// namespace shown as one Device.
//
//   nvmpath::ClientOptions o;
//   o.subnqn = "nqn.2024-01.io.nvmpath:demo";
//   o.paths = {{"127.0.0.1", 4420}, {"127.0.0.1", 4421}};
//   auto client = nvmpath::Client::Connect(o);          // blocks until a path is live
//   if (!client.ok()) { /* client.status().message(): what is wrong, e.g. "connect to
//                          127.0.0.1:4420: connection refused; 127.0.0.1:4421: ..." */ }
//   auto dev = (*client)->Open(1);                        // Result<Device*>
//   std::vector<uint8_t> buf((*dev)->block_size() * 8);
//   nvmpath::Status st = (*dev)->Read(0, 8, buf);         // sync
//   (*dev)->ReadAsync(0, 8, buf, [](nvmpath::Status s) { ... });  // async
//
// I/O threads: the client runs `ClientOptions::io_threads` reactor threads; every controller has
// one I/O queue per thread. Async completions run on an I/O thread: the one the request was
// submitted from when submitted from an I/O thread (no hop — the fast way to keep a queue depth
// is to resubmit from the callback), otherwise one chosen round-robin. Sync calls block the
// caller and must not be made from an I/O thread (they would wait for themselves: kInvalidArgument).
//
// Failover: an I/O fails only when no path can serve it — every path is down or inaccessible and
// none is expected back within `no_path_timeout` (or `queue_if_no_path` is off and no path is
// left). Its Status is then kNoPath with a message naming every path's state, for example
// "no usable path to nqn...:ns1 for 10s: path 127.0.0.1:4420 connecting, path 127.0.0.1:4421 ANA
// inaccessible". Device errors are kIoError with the NVMe status named; a range past the end is
// kOutOfRange; a buffer of the wrong size or a transfer above max_io_blocks() is kInvalidArgument.
//
// Lifetime: Devices belong to their Client and stay valid until it is destroyed. Destroying the
// Client (or Close) disconnects every path; I/O still in flight then completes with kCancelled
// or kNoPath before the destructor returns. Buffers must stay valid until their I/O completes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nvmpath/status.h"

namespace nvmpath {

// One TCP endpoint of a path or a discovery controller.
struct Endpoint {
  std::string address;  // "127.0.0.1", "::1", or a host name ("array-a.example")
  uint16_t port = 4420;

  // "127.0.0.1:4420", "[::1]:4420", "array-a:4420". Parse accepts "ADDR:PORT", "[IPV6]:PORT",
  // and an address alone (port 4420; a bare IPv6 address takes no port); a host name is looked
  // up when the path connects (the first address it gives). Errors name the text.
  std::string ToString() const;
  static Result<Endpoint> Parse(std::string_view text);
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// How a Device picks a path among the usable ones (ANA optimized first, then non-optimized).
// kNuma keeps one path while it stays usable, preferring a path whose network device is on the
// NUMA node of the submitting I/O thread's CPU (a path through loopback or a virtual device has no
// node and is near every CPU, as in Linux); kRoundRobin rotates; kQueueDepth takes the fewest in
// flight.
enum class PathPolicy { kNuma, kRoundRobin, kQueueDepth };
const char* PathPolicyName(PathPolicy policy);                // "numa", "round-robin", ...
Result<PathPolicy> ParsePathPolicy(std::string_view name);    // errors list the valid names

// QoS limits of a Device (its head) or of each of its paths, in any combination; 0 turns a limit
// off. An I/O waits (FIFO) until every limit allows it; a path's limits hold an attempt on that
// path only, and a ticket taken on one path goes back to that path whatever ends the attempt.
// Limiters are per I/O thread so the data path shares nothing: each thread's limiter enforces
// 1/N of every limit (N I/O threads, rounded up).
struct QosLimits {
  uint32_t depth = 0;        // I/Os in flight
  uint64_t iops = 0;         // I/Os per second
  uint64_t bytes_per_s = 0;  // bytes per second

  bool unlimited() const { return depth == 0 && iops == 0 && bytes_per_s == 0; }
  // "iops=N,bw=SIZE/s,depth=N": any combination, any order, each at most once; SIZE in bytes or
  // with a binary unit (K, KiB, M, MiB, G, GiB, T, TiB); "" or "none" is unlimited. Errors name
  // the part that is wrong.
  static Result<QosLimits> Parse(std::string_view text);
  // The Parse form ("iops=1000,bw=64MiB/s"), or "none".
  std::string ToString() const;
  friend bool operator==(const QosLimits&, const QosLimits&) = default;
};

// A QoS limiter's accounting summed over I/O threads: tickets issued, tickets released, and I/Os
// waiting for admission now. issued - released = held now (0 at quiesce).
struct QosCounters {
  uint64_t issued = 0;
  uint64_t released = 0;
  uint64_t waiting = 0;
};

struct ClientOptions {
  // The NVM subsystem. With `discovery` it may be empty if the discovery log lists exactly one
  // NVM subsystem.
  std::string subnqn;
  // Empty: "nqn.2014-08.org.nvmexpress:uuid:<hostid>".
  std::string hostnqn;
  // UUID text ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"); empty: a random one per client.
  std::string hostid;

  // Paths: one controller per endpoint. Or `discovery`: every TCP entry (IPv4 or IPv6) of
  // `subnqn` in that discovery controller's log becomes a path (both may be given; duplicates
  // are merged).
  std::vector<Endpoint> paths;
  std::optional<Endpoint> discovery;
  // With `discovery`: keep the discovery controller connected (keep-alive; reconnecting for as
  // long as the client runs) and follow its log, as nvme-stas does for Linux: on each Discovery
  // Log Change notice (and whenever it reconnects) the log is read again, paths of the subsystem
  // it newly lists are added, and paths found through it that left it are drained and removed.
  // Paths given in `paths` are never removed.
  bool persistent_discovery = false;

  PathPolicy policy = PathPolicy::kNuma;
  unsigned io_threads = 1;
  bool hdr_digest = false;
  bool data_digest = false;
  uint16_t queue_size = 128;  // I/O queue entries per controller and thread

  // Linux's fabrics defaults. Negative ctrl_loss_tmo: reconnect forever; negative
  // fast_io_fail_tmo: off.
  std::chrono::milliseconds keep_alive_tmo{5000};
  std::chrono::milliseconds reconnect_delay{10000};
  std::chrono::milliseconds ctrl_loss_tmo{600000};
  std::chrono::milliseconds fast_io_fail_tmo{-1};
  std::chrono::milliseconds io_timeout{30000};
  // Stale-write fence: a write whose connection was lost fails over only after this long.
  // Negative: the controller's Command Quiesce Time from Identify (0 if it reports none).
  std::chrono::milliseconds fence_delay{-1};

  // An I/O with no usable path waits this long for one (0: as long as a path may return).
  std::chrono::milliseconds no_path_timeout{0};
  // Keep a Device's I/O queued even when it has no path left at all (Linux delayed removal),
  // bounded by no_path_timeout.
  bool queue_if_no_path = true;

  // How long Connect waits for the first association of every path and its namespace scan.
  std::chrono::milliseconds connect_timeout{10000};
  // Keep retrying a path that is down when Connect runs (Connect succeeds if any path is live).
  bool retry_unreachable_paths = true;
  // A path whose controller was given up after ctrl_loss_tmo stays wanted: its address is probed
  // every reconnect_delay and the controller made again once it answers (Linux needs nvme-stas
  // or udev autoconnect for this). `nvmpath host` turns it on.
  bool recreate_lost_paths = false;

  // QoS of every Device (head) and of every path of every Device; unlimited by default.
  QosLimits head_qos;
  QosLimits path_qos;
};

// I/Os and their bytes of one kind of operation.
struct IoCount {
  uint64_t ios = 0;
  uint64_t bytes = 0;
};

struct OpCounters {
  IoCount read;
  IoCount write;
  IoCount other;  // flush, write zeroes, deallocate
};

// Errors by class. The field names are the class names ("command_specific", "host_aborted", ...)
// that `host-ctl stats` and the metrics' labels use.
struct ErrorCounters {
  // The NVMe status of a completed command, by Status Code Type.
  uint64_t generic = 0;           // SCT 0 (LBA out of range, namespace not ready, ...)
  uint64_t command_specific = 0;  // SCT 1
  uint64_t media = 0;             // SCT 2: media and data integrity
  uint64_t ana = 0;               // SCT 3: ANA inaccessible, persistent loss, transition
  uint64_t path = 0;              // SCT 3: other path errors the controller reported
  // SCT 3 70h/71h, set by this host: the command's queue failed first (connection or keep-alive
  // lost, a command timed out — the queue is torn down then — or the transfer was refused).
  uint64_t host_aborted = 0;
  uint64_t vendor = 0;            // SCT 4..7
  // A Device's own (never a path's): no path could serve the I/O (kNoPath), or it was refused
  // before reaching any path (a range past the end; head QoS with nowait).
  uint64_t no_path = 0;
  uint64_t rejected = 0;
};

// One bound of a cumulative latency histogram.
struct LatencyBucket {
  uint64_t below_ns = 0;  // the bound
  uint64_t count = 0;     // values below it (cumulative, as a Prometheus `le` bucket)
};

// A latency distribution, merged over I/O threads. Percentiles come from log-linear buckets at
// most 25% wide (a percentile is within 12.5% of the exact value); count, sum and max are exact.
struct LatencySummary {
  uint64_t count = 0;
  uint64_t sum_ns = 0;
  uint64_t p50_ns = 0;
  uint64_t p99_ns = 0;
  uint64_t p999_ns = 0;
  uint64_t max_ns = 0;  // 0 when count is 0
  // Always kLatencyBuckets entries: every power of two from 2^10 ns (1.024 us) to 2^36 ns
  // (68.7 s), each with the exact count of values below it; `count` is the +Inf bucket.
  std::vector<LatencyBucket> buckets;
  static constexpr int kFirstBucketBits = 10;
  static constexpr int kLastBucketBits = 36;
  static constexpr int kLatencyBuckets = kLastBucketBits - kFirstBucketBits + 1;
};

// The most recent error.
struct LastError {
  int64_t unix_ns = 0;      // when, wall clock (ns since the Unix epoch); 0: no error yet
  std::string error_class;  // an ErrorCounters field name
  std::string status;       // what: the NVMe status, or the error the application got
};

// Counters of one path of a Device, summed over I/O threads.
struct PathCounters {
  uint64_t ios = 0;        // attempts sent on this path
  uint64_t bytes = 0;
  uint64_t errors = 0;     // attempts that ended with an error status
  uint64_t failovers = 0;  // attempts failed over away from this path
  uint64_t retries = 0;    // same-path retries
  uint64_t in_flight = 0;
  QosCounters qos;         // this path's limiters (zero without path_qos)
  uint64_t failovers_in = 0;  // attempts sent here right after failing over from a path
  OpCounters ops;             // attempts sent, by operation
  ErrorCounters errors_by_class;  // attempts that ended with an error, by class (sums to errors)
  LatencySummary latency;         // each attempt: sent on this path → it ended, any status
  LatencySummary failover_gap;    // I/Os that failed over from this path (DeviceCounters's)
  LastError last_error;           // the last attempt that ended with an error here
};

struct DeviceCounters {
  uint64_t submitted = 0;
  uint64_t completed = 0;   // completed OK
  uint64_t errors = 0;      // completed with an error (what the application saw)
  uint64_t failovers = 0;
  uint64_t retries = 0;
  uint64_t requeues = 0;    // times an I/O waited for a path
  uint64_t no_path = 0;     // errors because no path could serve the I/O
  uint64_t outstanding = 0;
  uint64_t queued = 0;      // of those, waiting for a usable path now
  QosCounters qos;          // the head's limiters (zero without head_qos)
  std::vector<std::pair<std::string, PathCounters>> paths;  // path name → counters
  OpCounters ops;                 // submitted, by operation
  ErrorCounters errors_by_class;  // what the application saw, by class (sums to errors)
  LatencySummary latency;         // each I/O: submitted → completed to the application
  // Failover gap: each I/O that failed over and then completed OK, from the end of its failed
  // attempt on the failed path (for a write held for the stale-write fence: from when its
  // connection was lost) to its completion on the path that served it; counted once per I/O,
  // from its first failure. docs/ARCHITECTURE.md "Statistics".
  LatencySummary failover_gap;
  LastError last_error;           // the last error the application saw
};

// One path of a Device as the host sees it now.
struct PathInfo {
  std::string name;              // "127.0.0.1:4420"
  Endpoint endpoint;
  std::string controller_state;  // "new", "connecting", "live", "resetting", "deleting", ...
  std::string ana_state;         // "optimized", "non-optimized", "inaccessible", "change", ...
  bool ready = false;            // the namespace is present and ready behind this controller
  bool usable = false;           // the Device may send I/O on it now
  uint32_t ana_group = 0;        // the namespace's ANA group on this controller (0: none)
  // Why the Device does not use it now ("" when usable): "controller connecting", "ANA
  // inaccessible", "namespace not ready", "ANA state not read yet", "capacity differs".
  std::string unusable_reason;
};

struct DeviceInfo {
  uint32_t nsid = 0;
  std::string name;  // "<subnqn>:ns<nsid>"
  uint64_t capacity_blocks = 0;
  uint32_t block_size = 0;
  // The namespace identifiers, lower-case hex ("" where the controller reports none); the UUID in
  // its 8-4-4-4-12 form.
  std::string nguid;
  std::string eui64;
  std::string uuid;
  std::vector<PathInfo> paths;
  // In all, how long the head has had no usable path since it first had one (now included).
  std::chrono::nanoseconds time_without_usable_path{0};
};

struct ControllerInfo {
  std::string name;  // "127.0.0.1:4420"
  Endpoint endpoint;
  std::string state;
  uint16_t cntlid = 0;
  std::string model;
  std::string serial;
  std::string firmware;
  unsigned io_queues = 0;
  uint32_t reconnect_attempts = 0;  // failed attempts since it was last live
  uint64_t connect_attempts = 0;    // associations begun, the first included (reconnects: - 1)
  uint64_t keep_alive_timeouts = 0;  // keep-alives unanswered within KATO (each ended one)
  std::string last_error;  // why it last left live, or why the last attempt failed; "" if none
};

struct SubsystemInfo {
  std::string subnqn;
  std::string hostnqn;
  std::vector<ControllerInfo> controllers;
  std::vector<DeviceInfo> devices;  // by NSID
  std::vector<std::string> problems;  // identity mismatches, bad identify data, ANA log errors
};

// One entry of a discovery log, as Discover returns it.
struct DiscoveryEntry {
  std::string subnqn;
  std::string subtype;  // "nvm", "discovery", "current discovery"
  std::string transport;  // "tcp", ...
  Endpoint endpoint;
  uint16_t port_id = 0;
  uint16_t cntlid = 0;
};

// One shared namespace (a multipath head). Thread-safe: any method from any thread, except that
// the sync I/O calls must not run on an I/O thread.
class Device {
 public:
  using Callback = std::function<void(Status)>;

  virtual ~Device() = default;

  virtual uint32_t nsid() const = 0;
  virtual const std::string& name() const = 0;
  // The current size (a resize on the target shows after the host rescans).
  virtual uint64_t capacity_blocks() const = 0;
  virtual uint32_t block_size() const = 0;
  // The largest transfer one I/O may ask for, in blocks (the smallest MDTS of its controllers).
  virtual uint32_t max_io_blocks() const = 0;

  // ---- async: `done` runs once, on an I/O thread; `data` must stay valid until then ----
  // data.size() must be nblocks * block_size().
  virtual void ReadAsync(uint64_t lba, uint32_t nblocks, std::span<uint8_t> data,
                         Callback done) = 0;
  virtual void WriteAsync(uint64_t lba, uint32_t nblocks, std::span<const uint8_t> data,
                          Callback done) = 0;
  virtual void FlushAsync(Callback done) = 0;
  virtual void WriteZeroesAsync(uint64_t lba, uint32_t nblocks, Callback done) = 0;
  virtual void DeallocateAsync(uint64_t lba, uint32_t nblocks, Callback done) = 0;

  // ---- sync: block until done; not on an I/O thread ----
  Status Read(uint64_t lba, uint32_t nblocks, std::span<uint8_t> data);
  Status Write(uint64_t lba, uint32_t nblocks, std::span<const uint8_t> data);
  Status Flush();
  Status WriteZeroes(uint64_t lba, uint32_t nblocks);
  Status Deallocate(uint64_t lba, uint32_t nblocks);

  // A snapshot (blocks briefly; not on an I/O thread).
  virtual DeviceCounters counters() const = 0;
  virtual DeviceInfo info() const = 0;
  // Changes the path policy for new I/O.
  virtual void SetPolicy(PathPolicy policy) = 0;
};

// Timeouts an operator may change while the client runs; nullopt leaves one as it is. Same
// meanings as in ClientOptions.
struct TimeoutChange {
  std::optional<std::chrono::milliseconds> no_path_timeout;
  std::optional<std::chrono::milliseconds> fast_io_fail_tmo;
  std::optional<std::chrono::milliseconds> ctrl_loss_tmo;
};

class Client {
 public:
  // Connects every path (and reads the discovery log first, if asked) and waits until each path
  // either is live with its namespaces scanned or failed its first attempt, bounded by
  // connect_timeout. Succeeds if at least one path is live; otherwise the error names every
  // path and why it failed ("127.0.0.1:4420: connection refused; 127.0.0.1:4421: Connect
  // rejected: subsystem nqn.x not found (sct 1 sc 0x84)").
  static Result<std::unique_ptr<Client>> Connect(const ClientOptions& options);

  // Reads a discovery controller's log (no NVM subsystem is connected).
  static Result<std::vector<DiscoveryEntry>> Discover(const Endpoint& discovery,
                                                      const ClientOptions& options);

  virtual ~Client() = default;

  // The Device of `nsid`, or kNotFound naming the subsystem and the NSIDs it has.
  virtual Result<Device*> Open(uint32_t nsid) = 0;
  // The smallest NSID's Device (kNotFound if the subsystem shows no namespace).
  virtual Result<Device*> OpenFirst() = 0;
  virtual std::vector<uint32_t> nsids() const = 0;
  virtual SubsystemInfo Describe() const = 0;

  // ---- run-time changes (what `nvmpath host-ctl` drives); not on an I/O thread ----
  // Adds a path: returns once it is live with its namespaces scanned (its new namespaces become
  // Devices), or with why it is not, bounded by connect_timeout; a path that failed is not kept.
  // Errors: kAlreadyExists, kInvalidArgument (too many paths; a host name that does not
  // resolve), kCancelled (closed), or the connect error as Connect words it.
  virtual Status AddPath(const Endpoint& path) = 0;
  // Removes a path without an error reaching the application: no new I/O goes to it, what is in
  // flight on it finishes there (at most `drain_timeout`, then it fails over), then its
  // controller is deleted. A Device whose last path this was queues or fails its I/O by the
  // options (queue_if_no_path, no_path_timeout) and stays. Errors: kNotFound naming the paths.
  virtual Status RemovePath(const Endpoint& path,
                            std::chrono::milliseconds drain_timeout = std::chrono::seconds(10)) = 0;
  // Error recovery on one path now (its connection is dropped, its I/O fails over, it
  // reconnects). Errors: kNotFound.
  virtual Status ResetPath(const Endpoint& path) = 0;
  // Every live controller reads its namespaces and ANA log again (new namespaces, resizes).
  virtual void Rescan() = 0;
  // Every Device's policy, and the policy of Devices that appear later.
  virtual void SetPolicy(PathPolicy policy) = 0;
  // Errors: kInvalidArgument (a negative no_path_timeout).
  virtual Status SetTimeouts(const TimeoutChange& change) = 0;
  // The paths now ("127.0.0.1:4420", ...), in the order they were added.
  virtual std::vector<Endpoint> paths() const = 0;

  virtual unsigned io_threads() const = 0;
  // Runs `fn` on I/O thread `thread` (< io_threads()). For applications that drive their I/O
  // from the I/O threads (submit there, resubmit from callbacks).
  virtual void RunOnIoThread(unsigned thread, std::function<void()> fn) = 0;
  // The I/O thread index the caller runs on, or nullopt off the I/O threads.
  virtual std::optional<unsigned> CurrentIoThread() const = 0;

  // Disconnects every path and stops the I/O threads; idempotent. The destructor calls it.
  virtual void Close() = 0;
};

}  // namespace nvmpath
