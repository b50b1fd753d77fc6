#include "control/rpc.h"

#include <fmt/format.h>

#include "base/assert.h"
#include "control/json_fields.h"

namespace nvmpath::control {

Json RpcErrorResponse(int code, std::string message, const Json& id, const Status* cause) {
  Json error = {{"code", code}, {"message", std::move(message)}};
  if (cause != nullptr) error["data"] = {{"status", std::string(CodeName(cause->code()))}};
  return {{"jsonrpc", "2.0"}, {"error", std::move(error)}, {"id", id}};
}

void RpcDispatcher::Register(std::string method, Handler handler) {
  NVMP_ASSERT(!Has(method), "RPC method registered twice");
  handlers_.emplace(std::move(method), std::move(handler));
}

std::vector<std::string> RpcDispatcher::Methods() const {
  std::vector<std::string> names;
  for (const auto& [name, handler] : handlers_) names.push_back(name);
  return names;
}

Json RpcDispatcher::HandleRequest(const Json& request, const Executor& executor) const {
  if (!request.is_object()) {
    return RpcErrorResponse(
        rpc_error::kInvalidRequest,
        fmt::format("invalid request: expected a request object, got {}", DescribeValue(request)),
        nullptr);
  }
  // The id is echoed in errors when it is usable, so a client can match them.
  const Json* id_member = Member(request, "id");
  bool notification = id_member == nullptr;
  Json id = nullptr;
  if (id_member != nullptr) {
    if (!id_member->is_string() && !id_member->is_number() && !id_member->is_null()) {
      return RpcErrorResponse(rpc_error::kInvalidRequest,
                              fmt::format("invalid request: id: expected a string, number or "
                                          "null, got {}",
                                          DescribeValue(*id_member)),
                              nullptr);
    }
    id = *id_member;
  }
  auto invalid = [&id](std::string what) {
    return RpcErrorResponse(rpc_error::kInvalidRequest, "invalid request: " + what, id);
  };
  Status keys = CheckObject(request, "", {"jsonrpc", "method", "params", "id"});
  if (!keys.ok()) return invalid(keys.message());
  const Json* version = Member(request, "jsonrpc");
  if (version == nullptr || *version != "2.0") {
    return invalid(fmt::format("jsonrpc: expected \"2.0\", got {}",
                               version == nullptr ? "nothing" : DescribeValue(*version)));
  }
  const Json* method = Member(request, "method");
  if (method == nullptr || !method->is_string()) {
    return invalid(fmt::format("method: expected a string, got {}",
                               method == nullptr ? "nothing" : DescribeValue(*method)));
  }
  Json params = Json::object();
  if (const Json* p = Member(request, "params")) {
    // Methods take named parameters only; an empty array stands for "no parameters".
    if (p->is_array() && p->empty()) {
      params = Json::object();
    } else if (!p->is_object()) {
      return invalid(fmt::format("params: expected an object, got {}", DescribeValue(*p)));
    } else {
      params = *p;
    }
  }
  const std::string& name = method->get_ref<const std::string&>();
  auto it = handlers_.find(name);
  if (it == handlers_.end()) {
    std::string known;
    for (const auto& [n, h] : handlers_) known += fmt::format("{}{}", known.empty() ? "" : ", ", n);
    Json response =
        RpcErrorResponse(rpc_error::kMethodNotFound,
                         fmt::format("unknown method \"{}\" (known: {})",
                                     name.size() > 60 ? name.substr(0, 60) + "..." : name, known),
                         id);
    return notification ? Json(nullptr) : response;
  }
  // The call owns copies: an executor that gives up waiting (a stuck reactor) returns while the
  // call may still run later.
  Call call = [handler = it->second, params = std::move(params)]() -> Result<Json> {
    // A handler bug must not take the control socket down with it.
    try {
      return handler(params);
    } catch (const std::exception& e) {
      return Internal(fmt::format("handler threw: {}", e.what()));
    }
  };
  Result<Json> result = executor ? executor(call) : call();
  if (notification) return nullptr;
  if (!result.ok()) {
    const Status& s = result.status();
    if (s.code() == Code::kInvalidArgument) {
      return RpcErrorResponse(rpc_error::kInvalidParams, "invalid params: " + s.message(), id, &s);
    }
    return RpcErrorResponse(rpc_error::kServerError, s.ToString(), id, &s);
  }
  return {{"jsonrpc", "2.0"}, {"result", std::move(*result)}, {"id", id}};
}

std::string RpcDispatcher::HandleLine(std::string_view line, const Executor& executor) const {
  try {
    auto request = ParseJsonText(line);
    if (!request.ok()) {
      return RpcErrorResponse(rpc_error::kParseError, "parse error: " + request.status().message(),
                              nullptr)
          .dump();
    }
    if (request->is_array()) {
      if (request->empty()) {
        return RpcErrorResponse(rpc_error::kInvalidRequest, "invalid request: empty batch", nullptr)
            .dump();
      }
      Json responses = Json::array();
      for (const Json& one : *request) {
        Json r = HandleRequest(one, executor);
        if (!r.is_null()) responses.push_back(std::move(r));
      }
      return responses.empty() ? std::string()
                               : responses.dump(-1, ' ', false, Json::error_handler_t::replace);
    }
    Json r = HandleRequest(*request, executor);
    return r.is_null() ? std::string() : r.dump(-1, ' ', false, Json::error_handler_t::replace);
  } catch (const std::exception& e) {
    // Only a bug gets here (e.g. a result that cannot be serialised); answer, don't crash.
    return RpcErrorResponse(rpc_error::kInternalError, fmt::format("internal error: {}", e.what()),
                            nullptr)
        .dump();
  }
}

}  // namespace nvmpath::control
