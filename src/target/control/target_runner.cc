#include "target/control/target_runner.h"

#include <fmt/format.h>

#include <condition_variable>
#include <mutex>
#include <optional>

#include "base/log.h"
#include "target/control/target_methods.h"

namespace nvmpath::target::control {

using nvmpath::control::RpcServerOptions;
using nvmpath::control::RpcServer;
using nvmpath::control::ReactorExecutor;
namespace {

constexpr unsigned kReactorsMax = 64;
constexpr Duration kStepTimeout = std::chrono::seconds(10);

// A one-shot value handed from a reactor thread to the waiting owner thread.
template <typename T>
class Handoff {
 public:
  void Set(T value) {
    std::lock_guard lock(mu_);
    value_.emplace(std::move(value));
    cv_.notify_all();
  }
  // The value, or nullopt after `timeout`.
  std::optional<T> Wait(Duration timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return value_.has_value(); });
    return std::move(value_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<T> value_;
};

}  // namespace

Result<nlohmann::json> TargetRunner::RunOnControlReactor(
    std::function<Result<nlohmann::json>()> fn) {
  return ReactorExecutor(*reactors_[0], kStepTimeout)(std::move(fn));
}

Result<std::unique_ptr<TargetRunner>> TargetRunner::Start(TargetConfig config,
                                                          TargetRunnerOptions options) {
  if (options.reactors < 1 || options.reactors > kReactorsMax) {
    return InvalidArgument(
        fmt::format("reactors: {} is not in 1..{}", options.reactors, kReactorsMax));
  }
  std::unique_ptr<TargetRunner> r(new TargetRunner());
  r->control_socket_ =
      options.control_socket.empty() ? config.control_socket : options.control_socket;
  std::vector<reactor::Reactor*> reactors;
  for (unsigned i = 0; i < options.reactors; ++i) {
    auto u = reactor::Uring::Create(i);
    if (!u.ok()) return u.status().WithContext(fmt::format("reactor {}", i));
    reactors.push_back(u->get());
    r->reactors_.push_back(std::move(*u));
  }
  for (auto& u : r->reactors_) u->StartThread();
  r->running_ = true;  // from here on, an error path goes through Shutdown()

  auto failed = [&r](Status s) -> Result<std::unique_ptr<TargetRunner>> {
    r->Shutdown().IgnoreError();
    return s;
  };
  // Create, Start and BoundPort on the control reactor: listeners belong to its thread.
  TargetRunner* self = r.get();
  auto started = r->RunOnControlReactor([self, &config, reactors]() -> Result<nlohmann::json> {
    auto t = Target::Create(std::move(config), reactors);
    if (!t.ok()) return t.status();
    self->target_ = std::move(*t);
    NVMP_RETURN_IF_ERROR(self->target_->Start());
    return nlohmann::json();
  });
  if (!started.ok()) return failed(started.status());
  // `config` was moved into the target; read the ports back from its state.
  auto state = r->RunOnControlReactor(
      [self]() -> Result<nlohmann::json> { return self->target_->DescribeState(); });
  if (!state.ok()) return failed(state.status());
  try {
    for (const auto& p : state->at("ports")) {
      // The numeric address bound when listening (a host name was looked up), else as configured.
      const std::string bound = p.at("listen_address").get<std::string>();
      r->ports_.push_back(Port{.id = p.at("id").get<uint16_t>(),
                               .address = bound.empty() ? p.at("address").get<std::string>() : bound,
                               .bound_port = p.at("bound_port").get<uint16_t>()});
    }
  } catch (const nlohmann::json::exception& e) {
    return failed(Internal(fmt::format("unexpected target state: {}", e.what())));
  }

  if (!r->control_socket_.empty()) {
    RegisterTargetMethods(r->dispatcher_, *r->target_);
    auto server = RpcServer::Start(
        r->dispatcher_,
        RpcServerOptions{.socket_path = r->control_socket_,
                         .executor = ReactorExecutor(*reactors[0], options.rpc_timeout)});
    if (!server.ok()) return failed(server.status());
    r->server_ = std::move(*server);
  }
  return r;
}

TargetRunner::~TargetRunner() { Shutdown().IgnoreError(); }

Status TargetRunner::Shutdown() {
  if (!running_) return Status::Ok();
  running_ = false;
  // No control request may reach a target being stopped.
  if (server_) server_->Stop();
  Status result;
  if (target_) {
    auto stopped = std::make_shared<Handoff<bool>>();
    Target* target = target_.get();
    reactors_[0]->Post([target, stopped] { target->Stop([stopped] { stopped->Set(true); }); });
    if (!stopped->Wait(kStepTimeout)) {
      result = Status(Code::kTimedOut, "the target did not stop within 10 s");
      NVMP_LOG_WARN("{}", result.message());
    }
    // The Target owns streams and listeners of reactors[0]: destroy it on that thread.
    auto destroyed = std::make_shared<Handoff<bool>>();
    reactors_[0]->Post([this, destroyed] {
      target_.reset();
      destroyed->Set(true);
    });
    if (!destroyed->Wait(kStepTimeout)) {
      result = Status(Code::kTimedOut, "the target was not destroyed within 10 s");
    }
  }
  for (auto& u : reactors_) u->Stop();
  for (auto& u : reactors_) u->Join();
  server_.reset();
  return result;
}

}  // namespace nvmpath::target::control
