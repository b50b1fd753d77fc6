#include "export/metrics_host.h"

#include <algorithm>
#include <chrono>
#include <functional>

#include "base/assert.h"
#include "export/counter_fields.h"
#include "export/head_table.h"

namespace nvmpath::exports {
namespace {

// Every value an enum-state gauge can take, so a scrape shows each state 0 or 1 (the Prometheus
// convention for states): a change of state is then a change of value, not a new series.
constexpr const char* kControllerStates[] = {"new",      "connecting",        "live", "resetting",
                                             "deleting", "deleting (no I/O)", "dead"};
constexpr const char* kAnaStates[] = {"optimized",       "non-optimized", "inaccessible",
                                      "persistent-loss", "change",        "pending",
                                      "unknown"};

MetricLabels SubsystemLabels(const SubsystemSnapshot& s) { return {{"subsystem", s.subnqn}}; }

MetricLabels HeadLabels(const SubsystemSnapshot& s, const HeadSnapshot& h) {
  return {{"subsystem", s.subnqn}, {"head", h.name}};
}

MetricLabels PathLabels(const SubsystemSnapshot& s, const HeadSnapshot& h,
                        const std::string& path) {
  return {{"subsystem", s.subnqn}, {"head", h.name}, {"path", path}};
}

// A state gauge: one sample per known state (1 for `current`), and `current` itself if it is not
// one of them.
template <size_t N>
void StateSamples(MetricsText& out, MetricLabels labels, const char* const (&states)[N],
                  const std::string& current) {
  labels.emplace_back("state", "");
  bool known = false;
  for (const char* st : states) {
    labels.back().second = st;
    known |= current == st;
    out.Sample(labels, uint64_t{current == st});
  }
  if (!known) {
    labels.back().second = current;
    out.Sample(labels, uint64_t{1});
  }
}

// A counter or gauge read straight from one field of a counters struct.
template <typename Counters>
struct FieldMetric {
  const char* name;
  MetricType type;
  const char* help;
  uint64_t Counters::*field;
};
using PathMetric = FieldMetric<PathCounters>;
using HeadMetric = FieldMetric<DeviceCounters>;

constexpr PathMetric kPathMetrics[] = {
    {"nvmpath_path_ios_total", MetricType::kCounter, "I/O attempts sent on the path.",
     &PathCounters::ios},
    {"nvmpath_path_io_bytes_total", MetricType::kCounter,
     "Bytes of the I/O attempts sent on the path.", &PathCounters::bytes},
    {"nvmpath_path_errors_total", MetricType::kCounter,
     "I/O attempts on the path that ended with an error status.", &PathCounters::errors},
    {"nvmpath_path_failovers_total", MetricType::kCounter,
     "I/O attempts failed over away from the path to another path.", &PathCounters::failovers},
    {"nvmpath_path_failovers_in_total", MetricType::kCounter,
     "I/O attempts sent on the path right after failing over from another path.",
     &PathCounters::failovers_in},
    {"nvmpath_path_retries_total", MetricType::kCounter,
     "I/O attempts retried on the same path (transient errors).", &PathCounters::retries},
    {"nvmpath_path_in_flight", MetricType::kGauge, "I/O attempts on the path now.",
     &PathCounters::in_flight},
};

constexpr HeadMetric kHeadMetrics[] = {
    {"nvmpath_head_submitted_ios_total", MetricType::kCounter,
     "I/Os the application submitted to the head.", &DeviceCounters::submitted},
    {"nvmpath_head_completed_ios_total", MetricType::kCounter,
     "I/Os of the head completed successfully.", &DeviceCounters::completed},
    {"nvmpath_head_errors_total", MetricType::kCounter,
     "I/Os of the head completed with an error: what the application saw.",
     &DeviceCounters::errors},
    {"nvmpath_head_no_path_errors_total", MetricType::kCounter,
     "Application errors because no path could serve the I/O.", &DeviceCounters::no_path},
    {"nvmpath_head_failovers_total", MetricType::kCounter,
     "I/O attempts of the head failed over to another path.", &DeviceCounters::failovers},
    {"nvmpath_head_retries_total", MetricType::kCounter,
     "I/O attempts of the head retried on the same path.", &DeviceCounters::retries},
    {"nvmpath_head_requeues_total", MetricType::kCounter,
     "Times an I/O of the head was queued to wait for a usable path.", &DeviceCounters::requeues},
    {"nvmpath_head_in_flight", MetricType::kGauge,
     "I/Os of the head submitted and not yet completed (queued ones included).",
     &DeviceCounters::outstanding},
    {"nvmpath_head_queued_ios", MetricType::kGauge,
     "I/Os of the head waiting for a usable path now.", &DeviceCounters::queued},
};

// Every (labels, counters) row of the paths, or of the heads, for the families with an `op` or
// `class` label.
template <typename Counters>
using Rows = std::vector<std::pair<MetricLabels, const Counters*>>;

Rows<PathCounters> PathRows(const HostSnapshot& snap) {
  Rows<PathCounters> rows;
  for (const auto& s : snap.subsystems) {
    for (const auto& h : s.heads) {
      for (const auto& [name, pc] : h.counters.paths) rows.emplace_back(PathLabels(s, h, name), &pc);
    }
  }
  return rows;
}

Rows<DeviceCounters> HeadRows(const HostSnapshot& snap) {
  Rows<DeviceCounters> rows;
  for (const auto& s : snap.subsystems) {
    for (const auto& h : s.heads) rows.emplace_back(HeadLabels(s, h), &h.counters);
  }
  return rows;
}

// `<prefix>_ios_by_op_total` and `<prefix>_io_bytes_by_op_total`: one sample per operation.
template <typename Counters>
void ByOpFamilies(MetricsText& out, const Rows<Counters>& rows, const std::string& prefix,
                  const std::string& what) {
  for (bool bytes : {false, true}) {
    out.Family(prefix + (bytes ? "_io_bytes_by_op_total" : "_ios_by_op_total"),
               MetricType::kCounter,
               (bytes ? "Bytes of " : "") + what + ", by operation (op: read, write, other).");
    for (const auto& [labels, c] : rows) {
      for (const OpField& f : kOpFields) {
        MetricLabels l = labels;
        l.emplace_back("op", f.name);
        const IoCount& n = c->ops.*f.field;
        out.Sample(l, bytes ? n.bytes : n.ios);
      }
    }
  }
}

// `<prefix>_errors_by_class_total`: one sample per error class (a path's: those with an NVMe
// status).
template <typename Counters>
void ByClassFamily(MetricsText& out, const Rows<Counters>& rows, const std::string& prefix,
                   const std::string& help, bool head) {
  out.Family(prefix + "_errors_by_class_total", MetricType::kCounter, help);
  for (const auto& [labels, c] : rows) {
    for (const ErrorClassField& f : kErrorClassFields) {
      if (f.head_only && !head) continue;
      MetricLabels l = labels;
      l.emplace_back("class", f.name);
      out.Sample(l, c->errors_by_class.*f.field);
    }
  }
}

void RenderPaths(const HostSnapshot& snap, MetricsText& out) {
  out.Family("nvmpath_path_controller_state", MetricType::kGauge,
             "State of the path's controller: 1 for the current state, 0 for the others.");
  for (const auto& s : snap.subsystems) {
    for (const auto& h : s.heads) {
      for (const PathInfo& p : h.info.paths) {
        StateSamples(out, PathLabels(s, h, p.name), kControllerStates, p.controller_state);
      }
    }
  }
  out.Family("nvmpath_path_ana_state", MetricType::kGauge,
             "ANA state of the namespace through the path: 1 for the current state, 0 for the "
             "others (pending: an ANA log read is due; unknown: not scanned through it).");
  for (const auto& s : snap.subsystems) {
    for (const auto& h : s.heads) {
      for (const PathInfo& p : h.info.paths) {
        StateSamples(out, PathLabels(s, h, p.name), kAnaStates, p.ana_state);
      }
    }
  }
  out.Family("nvmpath_path_usable", MetricType::kGauge,
             "1 if the head may send I/O on the path now, else 0.");
  for (const auto& s : snap.subsystems) {
    for (const auto& h : s.heads) {
      for (const PathInfo& p : h.info.paths) {
        out.Sample(PathLabels(s, h, p.name), uint64_t{p.usable});
      }
    }
  }
  // Counters exist for the paths in the head's path set; a path whose namespace is gone shows
  // its states above and no counters.
  for (const PathMetric& m : kPathMetrics) {
    out.Family(m.name, m.type, m.help);
    for (const auto& s : snap.subsystems) {
      for (const auto& h : s.heads) {
        for (const auto& [name, pc] : h.counters.paths) {
          out.Sample(PathLabels(s, h, name), pc.*m.field);
        }
      }
    }
  }
  const Rows<PathCounters> rows = PathRows(snap);
  ByOpFamilies(out, rows, "nvmpath_path", "I/O attempts sent on the path");
  ByClassFamily(out, rows, "nvmpath_path",
                "I/O attempts on the path that ended with an error status, by class (the NVMe "
                "Status Code Type; host_aborted: the host ended the command when its queue "
                "failed).",
                false);
}

void RenderHeads(const HostSnapshot& snap, MetricsText& out) {
  out.Family("nvmpath_head_capacity_bytes", MetricType::kGauge, "Size of the head.");
  for (const auto& s : snap.subsystems) {
    for (const auto& h : s.heads) {
      out.Sample(HeadLabels(s, h), h.info.capacity_blocks * h.info.block_size);
    }
  }
  out.Family("nvmpath_head_block_size_bytes", MetricType::kGauge,
             "Logical block size of the head.");
  for (const auto& s : snap.subsystems) {
    for (const auto& h : s.heads) out.Sample(HeadLabels(s, h), uint64_t{h.info.block_size});
  }
  out.Family("nvmpath_head_usable_paths", MetricType::kGauge,
             "Paths the head may send I/O on now.");
  for (const auto& s : snap.subsystems) {
    for (const auto& h : s.heads) {
      const auto n = std::count_if(h.info.paths.begin(), h.info.paths.end(),
                                   [](const PathInfo& p) { return p.usable; });
      out.Sample(HeadLabels(s, h), static_cast<uint64_t>(n));
    }
  }
  out.Family("nvmpath_head_no_usable_path_seconds_total", MetricType::kCounter,
             "Time the head had no usable path, since it first had one (the current stretch "
             "included).");
  for (const auto& s : snap.subsystems) {
    for (const auto& h : s.heads) {
      out.Sample(HeadLabels(s, h),
                 std::chrono::duration<double>(h.info.time_without_usable_path).count());
    }
  }
  for (const HeadMetric& m : kHeadMetrics) {
    out.Family(m.name, m.type, m.help);
    for (const auto& s : snap.subsystems) {
      for (const auto& h : s.heads) out.Sample(HeadLabels(s, h), h.counters.*m.field);
    }
  }
  const Rows<DeviceCounters> rows = HeadRows(snap);
  ByOpFamilies(out, rows, "nvmpath_head", "I/Os the application submitted to the head");
  ByClassFamily(out, rows, "nvmpath_head",
                "I/Os of the head completed with an error, by class: what the application saw "
                "(no_path: no path could serve it; rejected: refused before any path saw it).",
                true);
}

void RenderControllers(const HostSnapshot& snap, MetricsText& out) {
  auto labels = [](const SubsystemSnapshot& s, const ControllerInfo& c) {
    MetricLabels l = SubsystemLabels(s);
    l.emplace_back("path", c.name);
    return l;
  };
  out.Family("nvmpath_controller_state", MetricType::kGauge,
             "State of the path's controller: 1 for the current state, 0 for the others.");
  for (const auto& s : snap.subsystems) {
    for (const ControllerInfo& c : s.controllers) {
      StateSamples(out, labels(s, c), kControllerStates, c.state);
    }
  }
  out.Family("nvmpath_controller_reconnects_total", MetricType::kCounter,
             "Association attempts after the controller's first (starts again at 0 when a "
             "controller given up after ctrl_loss_tmo is made again).");
  for (const auto& s : snap.subsystems) {
    for (const ControllerInfo& c : s.controllers) {
      out.Sample(labels(s, c), c.connect_attempts > 0 ? c.connect_attempts - 1 : 0);
    }
  }
  out.Family("nvmpath_controller_keep_alive_timeouts_total", MetricType::kCounter,
             "Keep-alives not answered within KATO (each ended an association).");
  for (const auto& s : snap.subsystems) {
    for (const ControllerInfo& c : s.controllers) out.Sample(labels(s, c), c.keep_alive_timeouts);
  }
  out.Family("nvmpath_controller_failed_attempts", MetricType::kGauge,
             "Failed association attempts since the controller was last live.");
  for (const auto& s : snap.subsystems) {
    for (const ControllerInfo& c : s.controllers) {
      out.Sample(labels(s, c), uint64_t{c.reconnect_attempts});
    }
  }
  out.Family("nvmpath_controller_io_queues", MetricType::kGauge,
             "I/O queues of the controller (0 while not live).");
  for (const auto& s : snap.subsystems) {
    for (const ControllerInfo& c : s.controllers) out.Sample(labels(s, c), uint64_t{c.io_queues});
  }
}

}  // namespace

HistogramData PowerOfTwoHistogram(const LatencySummary& l) {
  HistogramData h;
  h.count = l.count;
  // Seconds by division by 1e9 (an exact double), rounded once, so a bound is written as its
  // exact decimal ("4.095e-06"); multiplying by 1e-9 (inexact) gives 4.095000000000001e-06.
  h.sum = static_cast<double>(l.sum_ns) / 1e9;
  uint64_t below = 0;
  for (const LatencyBucket& b : l.buckets) {
    NVMP_ASSERT(b.count >= below && b.below_ns > 0, "latency buckets are not cumulative");
    // The values below 2^b ns are, in whole nanoseconds, those at most 2^b - 1 ns: `le` exact.
    h.buckets.push_back(HistogramBucket{static_cast<double>(b.below_ns - 1) / 1e9,
                                        b.count - below});
    below = b.count;
  }
  return h;
}

HostSnapshot TakeHostSnapshot(const std::vector<Client*>& clients) {
  HostSnapshot snap;
  for (unsigned i = 0; i < clients.size(); ++i) {
    Client* c = clients[i];
    if (c == nullptr) continue;
    SubsystemInfo info = c->Describe();
    SubsystemSnapshot s;
    s.index = i;
    s.subnqn = info.subnqn;
    s.controllers = std::move(info.controllers);
    for (DeviceInfo& d : info.devices) {
      HeadSnapshot h;
      h.name = HeadName(HeadId{i, d.nsid});
      auto dev = c->Open(d.nsid);
      if (dev.ok()) {
        h.counters = (*dev)->counters();
        for (const auto& [name, pc] : h.counters.paths) {
          h.path_latency.emplace_back(name, PowerOfTwoHistogram(pc.latency));
        }
        h.failover_gap = PowerOfTwoHistogram(h.counters.failover_gap);
      }
      h.info = std::move(d);
      s.heads.push_back(std::move(h));
    }
    snap.subsystems.push_back(std::move(s));
  }
  return snap;
}

void RenderHistogramFamilies(const HostSnapshot& snap, MetricsText& out) {
  auto any = [&](const std::function<bool(const HeadSnapshot&)>& has) {
    for (const auto& s : snap.subsystems) {
      if (std::any_of(s.heads.begin(), s.heads.end(), has)) return true;
    }
    return false;
  };
  if (any([](const HeadSnapshot& h) { return !h.path_latency.empty(); })) {
    out.Family("nvmpath_path_latency_seconds", MetricType::kHistogram,
               "Latency of the I/O attempts on the path, from submission to the path until its "
               "completion.");
    for (const auto& s : snap.subsystems) {
      for (const auto& h : s.heads) {
        for (const auto& [path, data] : h.path_latency) out.Histogram(PathLabels(s, h, path), data);
      }
    }
  }
  if (any([](const HeadSnapshot& h) { return h.failover_gap.has_value(); })) {
    out.Family("nvmpath_head_failover_gap_seconds", MetricType::kHistogram,
               "From the moment a path is known failed to the first completion, on another "
               "path, of an I/O that was on it.");
    for (const auto& s : snap.subsystems) {
      for (const auto& h : s.heads) {
        if (h.failover_gap) out.Histogram(HeadLabels(s, h), *h.failover_gap);
      }
    }
  }
}

std::string RenderHostMetrics(const HostSnapshot& snapshot) {
  MetricsText out;
  RenderPaths(snapshot, out);
  RenderHeads(snapshot, out);
  RenderControllers(snapshot, out);
  RenderHistogramFamilies(snapshot, out);
  return out.Take();
}

}  // namespace nvmpath::exports
