#include "http_handlers.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>

#include "hive/core/json_writer.h"
#include "hive/core/text.h"

namespace hive::registry {
namespace {

using nlohmann::json;

// Enough for a registration at every limit of instance.h.
constexpr size_t kMaxWriteBodyBytes = 256u << 10;
constexpr auto kDefaultWait = std::chrono::seconds(30);
constexpr auto kMaxWait = std::chrono::minutes(5);
// An event stream with nothing to say sends a comment this often, so that
// proxies do not close it.
constexpr auto kKeepAlive = std::chrono::seconds(15);

Status WrongType(std::string_view field, std::string_view expected) {
  return Status::InvalidArgument(std::string(field) + " must be " + std::string(expected));
}

// Parses `body` as a JSON object, nested at most kMaxJsonDepth deep (the
// limit every JSON body hived reads has; docs/API.md).
Status ParseObject(std::string_view body, json* out) {
  HIVE_RETURN_IF_ERROR(CheckJsonDepth(body));
  try {
    *out = json::parse(body);
  } catch (const json::exception& e) {
    std::string_view what = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
    if (size_t pos = what.find("] "); pos != std::string_view::npos) what.remove_prefix(pos + 2);
    return Status::InvalidArgument("malformed JSON body: " + std::string(what));
  }
  if (!out->is_object()) return Status::InvalidArgument("request body must be a JSON object");
  return Status::Ok();
}

// The member `key` of `obj`, or null when absent or JSON null.
const json* Member(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

Status ReadString(const json& obj, const char* key, std::string* out) {
  const json* v = Member(obj, key);
  if (v == nullptr) return Status::Ok();
  if (!v->is_string()) return WrongType(key, "a string");
  *out = v->get<std::string>();
  return Status::Ok();
}

// {"status": ..., "output": ...}; `prefix` names the fields in errors.
Status ReadHealth(const json& obj, std::string_view prefix, Health* out) {
  std::string status_field = std::string(prefix) + "status";
  std::string output_field = std::string(prefix) + "output";
  const json* status = Member(obj, "status");
  if (status == nullptr) return Status::InvalidArgument(status_field + " is required");
  if (!status->is_string()) return WrongType(status_field, "a string");
  auto parsed = ParseHealthStatus(status->get<std::string>());
  if (!parsed.ok()) return parsed.status().WithContext(status_field);
  out->status = *parsed;
  if (const json* output = Member(obj, "output")) {
    if (!output->is_string()) return WrongType(output_field, "a string");
    out->output = output->get<std::string>();
  }
  return Status::Ok();
}

Status ReadRegistration(const json& obj, Registration* reg) {
  if (Member(obj, "address") == nullptr) return Status::InvalidArgument("address is required");
  HIVE_RETURN_IF_ERROR(ReadString(obj, "address", &reg->address));

  const json* port = Member(obj, "port");
  if (port == nullptr) return Status::InvalidArgument("port is required");
  if (!port->is_number_integer()) return WrongType("port", "an integer");
  if (port->is_number_unsigned() ? port->get<uint64_t>() > 65535
                                 : port->get<int64_t>() < 1 || port->get<int64_t>() > 65535) {
    return Status::InvalidArgument("port " + port->dump() + " is out of range 1..65535");
  }
  reg->port = port->get<int>();

  HIVE_RETURN_IF_ERROR(ReadString(obj, "version", &reg->version));

  if (const json* tags = Member(obj, "tags")) {
    if (!tags->is_array()) return WrongType("tags", "an array of strings");
    for (size_t i = 0; i < tags->size(); ++i) {
      const json& tag = (*tags)[i];
      if (!tag.is_string()) return WrongType("tags[" + std::to_string(i) + "]", "a string");
      reg->tags.push_back(tag.get<std::string>());
    }
  }

  if (const json* metadata = Member(obj, "metadata")) {
    if (!metadata->is_object()) return WrongType("metadata", "an object of strings");
    for (const auto& [key, value] : metadata->items()) {
      if (!value.is_string()) return WrongType("metadata." + key, "a string");
      reg->metadata.emplace(key, value.get<std::string>());
    }
  }

  if (const json* ttl = Member(obj, "ttl")) {
    if (!ttl->is_string()) return WrongType("ttl", "a duration string like \"15s\"");
    auto d = ParseDuration(ttl->get<std::string>());
    if (!d.ok()) return d.status().WithContext("ttl");
    reg->ttl = *d;
  }

  if (const json* health = Member(obj, "health")) {
    if (!health->is_object()) return WrongType("health", "an object");
    Health h;
    HIVE_RETURN_IF_ERROR(ReadHealth(*health, "health.", &h));
    reg->health = std::move(h);
  }
  return Status::Ok();
}

// An instance as JSON: lookups and watch answers render many of them. Keys
// in alphabetical order, as the registry's answers have always spelt them.
void InstanceFields(JsonWriter& w, const Instance& inst) {
  w.BeginObject().Field("address", inst.address);
  w.Key("health")
      .BeginObject()
      .Field("output", inst.health.output)
      .Field("status", HealthStatusName(inst.health.status))
      .EndObject();
  w.Field("id", inst.id)
      .Key("last_seen")
      .Time(inst.last_seen)
      .Key("lease_expires_at")
      .Time(inst.lease_expires_at);
  w.Key("maintenance")
      .BeginObject()
      .Field("enabled", inst.maintenance)
      .Field("reason", inst.maintenance_reason)
      .EndObject();
  w.Key("metadata").BeginObject();
  for (const auto& [key, value] : inst.metadata) w.Field(key, value);
  w.EndObject();
  w.Field("port", inst.port)
      .Key("registered_at")
      .Time(inst.registered_at)
      .Field("service", inst.service);
  w.Key("tags").BeginArray();
  for (const std::string& tag : inst.tags) w.String(tag);
  w.EndArray();
  w.Field("ttl", FormatDuration(inst.ttl)).Field("version", inst.version).EndObject();
}

std::string InstanceJson(const Instance& inst) {
  JsonWriter w;
  InstanceFields(w, inst);
  return w.Take();
}

std::string IndexJson(uint64_t index) {
  return JsonWriter().BeginObject().Field("index", index).EndObject().Take();
}

void Reply(HttpResponse& res, std::string body, uint64_t index) {
  res.SetJson(std::move(body));
  res.SetHeader("X-Hive-Index", std::to_string(index));
}

Status ParseIndexParam(const std::string& text, uint64_t* index) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *index);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument("index must be a non-negative integer, not " + JsonString(text));
  }
  return Status::Ok();
}

// As Consul does, up to wait/16 of random jitter is added so that watchers
// that started together do not all come back at once.
std::chrono::milliseconds Jitter(std::chrono::milliseconds wait) {
  const int64_t spread = wait.count() / 16;
  if (spread <= 0) return wait;
  thread_local std::minstd_rand rng{std::random_device{}()};
  return wait + std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, spread)(rng));
}

Status ParseWaitParam(const HttpRequest& req, std::chrono::milliseconds* wait) {
  *wait = kDefaultWait;
  auto v = req.Query("wait");
  if (!v) return Status::Ok();
  auto d = ParseDuration(*v);
  if (!d.ok()) return d.status().WithContext("wait");
  // As Consul does, a longer wait is cut to the maximum rather than refused.
  *wait = std::chrono::duration_cast<std::chrono::milliseconds>(std::min<Duration>(*d, kMaxWait));
  return Status::Ok();
}

Status ParseFilter(const HttpRequest& req, InstanceFilter* filter) {
  Result<bool> healthy = req.BoolQuery("healthy");
  if (!healthy.ok()) return healthy.status();
  filter->healthy_only = *healthy;
  if (auto tag = req.Query("tag")) filter->tag = *tag;
  if (auto version = req.Query("version")) filter->version = *version;
  return ValidateFilter(*filter);
}

Status HandleRegister(Registry& registry, const HttpRequest& req, HttpResponse& res) {
  json body;
  Registration reg;
  HIVE_RETURN_IF_ERROR(ParseObject(req.body, &body));
  HIVE_RETURN_IF_ERROR(ReadRegistration(body, &reg));
  auto result = registry.Register(req.PathParam("service"), req.PathParam("id"), reg);
  if (!result.ok()) return result.status();
  Reply(res, InstanceJson(result->instance), result->index);
  return Status::Ok();
}

Status HandleHeartbeat(Registry& registry, const HttpRequest& req, HttpResponse& res) {
  std::optional<Health> health;
  if (!Trim(req.body).empty()) {
    json body;
    HIVE_RETURN_IF_ERROR(ParseObject(req.body, &body));
    if (Member(body, "status") != nullptr || Member(body, "output") != nullptr) {
      Health h;
      HIVE_RETURN_IF_ERROR(ReadHealth(body, "", &h));
      health = std::move(h);
    }
  }
  auto index = registry.Heartbeat(req.PathParam("service"), req.PathParam("id"), health);
  if (!index.ok()) return index.status();
  Reply(res, IndexJson(*index), *index);
  return Status::Ok();
}

Status HandleDeregister(Registry& registry, const HttpRequest& req, HttpResponse& res) {
  auto index = registry.Deregister(req.PathParam("service"), req.PathParam("id"));
  if (!index.ok()) return index.status();
  Reply(res, IndexJson(*index), *index);
  return Status::Ok();
}

std::string ServiceJson(const ServiceInstances& result) {
  JsonWriter w;
  w.BeginObject().Field("index", result.index).Key("instances").BeginArray();
  for (const Instance& inst : result.instances) InstanceFields(w, inst);
  return w.EndArray().Field("service", result.service).EndObject().Take();
}

Status HandleMaintenance(Registry& registry, const HttpRequest& req, HttpResponse& res) {
  json body;
  HIVE_RETURN_IF_ERROR(ParseObject(req.body, &body));
  const json* enabled = Member(body, "enabled");
  if (enabled == nullptr) return Status::InvalidArgument("enabled is required");
  if (!enabled->is_boolean()) return WrongType("enabled", "true or false");
  std::string reason;
  HIVE_RETURN_IF_ERROR(ReadString(body, "reason", &reason));
  auto index = registry.SetMaintenance(req.PathParam("service"), req.PathParam("id"),
                                       enabled->get<bool>(), reason);
  if (!index.ok()) return index.status();
  Reply(res, IndexJson(*index), *index);
  return Status::Ok();
}

Status HandleList(Registry& registry, const HttpRequest&, HttpResponse& res) {
  ServiceList list = registry.ListServices();
  JsonWriter w;
  w.BeginObject()
      .Field("index", list.index)
      .Field("self_preservation", list.self_preservation)
      .Key("services")
      .BeginArray();
  for (const ServiceSummary& s : list.services) {
    w.BeginObject()
        .Field("critical", s.critical)
        .Field("instances", s.instances)
        .Field("maintenance", s.maintenance)
        .Field("name", s.name)
        .Field("passing", s.passing)
        .Field("warning", s.warning)
        .EndObject();
  }
  Reply(res, w.EndArray().EndObject().Take(), list.index);
  return Status::Ok();
}

// The blocking queries one change wakes all answer the same state: the first
// renders it and the others share the bytes (and their gzip), for up to a
// second (lease times in it move with heartbeats, which do not change the
// index).
class WatchResponseCache {
 public:
  std::shared_ptr<const SharedBody> Find(const std::string& key, uint64_t index) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.index != index ||
        std::chrono::steady_clock::now() - it->second.rendered > kFresh) {
      return nullptr;
    }
    return it->second.body;
  }

  void Put(const std::string& key, uint64_t index, std::shared_ptr<const SharedBody> body) {
    std::lock_guard lock(mu_);
    if (entries_.size() >= kMaxEntries) entries_.clear();
    entries_[key] = {index, std::chrono::steady_clock::now(), std::move(body)};
  }

 private:
  static constexpr auto kFresh = std::chrono::seconds(1);
  static constexpr size_t kMaxEntries = 4096;
  struct Entry {
    uint64_t index;
    std::chrono::steady_clock::time_point rendered;
    std::shared_ptr<const SharedBody> body;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

// Answers with `service`'s instances that pass `filter` as of its index
// `index`, rendered once per index and shared (see WatchResponseCache).
void AnswerService(Registry& registry, WatchResponseCache& cache, const std::string& service,
                   const InstanceFilter& filter, const std::string& key, uint64_t index,
                   HttpResponse& res) {
  std::shared_ptr<const SharedBody> body = cache.Find(key, index);
  if (body == nullptr) {
    auto result = registry.GetService(service, filter);
    if (!result.ok()) {
      res.SetError(result.status());
      return;
    }
    index = result->index;  // the index goes with the bytes it describes
    body = std::make_shared<const SharedBody>(ServiceJson(*result));
    cache.Put(key, index, body);
  }
  res.SetSharedJson(std::move(body));
  res.SetHeader("X-Hive-Index", std::to_string(index));
}

Status HandleGet(Registry& registry, const std::shared_ptr<WatchResponseCache>& cache,
                 const HttpRequest& req, HttpResponse& res) {
  InstanceFilter filter;
  HIVE_RETURN_IF_ERROR(ParseFilter(req, &filter));
  std::string service(req.PathParam("service"));
  HIVE_RETURN_IF_ERROR(ValidateName(service, "service"));
  auto index_text = req.Query("index");
  uint64_t index = 0;
  std::chrono::milliseconds wait{};
  HIVE_RETURN_IF_ERROR(ParseWaitParam(req, &wait));
  if (index_text) HIVE_RETURN_IF_ERROR(ParseIndexParam(*index_text, &index));
  if (!index_text) {
    // Rendered for this read: a lapsed lease leaves healthy results at once,
    // before the reaper's pass moves the index a shared answer is keyed by.
    auto result = registry.GetService(service, filter);
    if (!result.ok()) return result.status();
    Reply(res, ServiceJson(*result), result->index);
    return Status::Ok();
  }
  std::string key = service + '\0' + (filter.healthy_only ? "1" : "0") + '\0' + filter.tag + '\0' +
                    filter.version;
  auto wake_on = [&registry, service](Notifier::Listener wake) {
    Result<Subscription> sub = registry.SubscribeService(service, std::move(wake));
    return sub.ok() ? std::move(*sub) : Subscription();
  };
  auto answer = [&registry, cache, service, filter, index, key = std::move(key)](HttpResponse& r,
                                                                                 bool last) {
    uint64_t now_index = 0;
    if (!registry.ServiceChangedSince(service, index, &now_index) && !last) return false;
    AnswerService(registry, *cache, service, filter, key, now_index, r);
    return true;
  };
  res.Wait(std::move(wake_on), Jitter(wait), std::move(answer));
  return Status::Ok();
}

std::string EventJson(const ChangeEvent& e) {
  JsonWriter w;
  w.BeginObject().Field("id", e.id).Field("index", e.index);
  if (e.instance) {
    w.Key("instance");
    InstanceFields(w, *e.instance);
  }
  return w.Field("kind", ChangeKindName(e.kind)).Field("service", e.service).EndObject().Take();
}

std::string SseEvent(std::string_view kind, uint64_t id, std::string_view data) {
  std::string out = "id: " + std::to_string(id) + "\nevent: ";
  out += kind;
  out += "\ndata: ";
  out += data;
  out += "\n\n";
  return out;
}

// GET /api/v1/events: registry changes as server-sent events. A client that
// reconnects with Last-Event-ID (or ?index=N) gets what it missed; one that
// fell behind the bounded history gets a "reset" event and must re-read.
Status HandleEvents(Registry& registry, const HttpRequest& req, HttpResponse& res) {
  uint64_t after = registry.index();
  if (auto last = req.HeaderValue("Last-Event-ID")) {
    HIVE_RETURN_IF_ERROR(ParseIndexParam(*last, &after).WithContext("Last-Event-ID"));
  } else if (auto index = req.Query("index")) {
    HIVE_RETURN_IF_ERROR(ParseIndexParam(*index, &after));
  }
  struct State {
    uint64_t after;
    bool started = false;
    std::chrono::steady_clock::time_point last_write;
  };
  auto state = std::make_shared<State>(State{after});
  res.status = 200;
  res.content_type = "text/event-stream";
  res.SetHeader("Cache-Control", "no-cache");
  auto wake_on = [&registry](Notifier::Listener wake) {
    return registry.SubscribeEvents(std::move(wake));
  };
  auto pump = [&registry, state](StreamSink& sink) {
    const auto now = std::chrono::steady_clock::now();
    if (!state->started) {
      state->started = true;
      state->last_write = now;
      if (!sink.Write("retry: 2000\n: index " + std::to_string(state->after) + "\n\n")) {
        return false;
      }
    }
    if (registry.watches_cancelled()) return false;
    EventBatch batch = registry.EventsSince(state->after);
    std::string out;
    if (batch.reset) {
      out = SseEvent("reset", batch.index, IndexJson(batch.index));
    } else {
      for (const ChangeEvent& e : batch.events) {
        out += SseEvent(ChangeKindName(e.kind), e.index, EventJson(e));
      }
    }
    state->after = std::max(state->after, batch.index);
    if (out.empty()) {
      // Pumped at least every kKeepAlive: a comment keeps proxies from
      // closing a quiet stream.
      if (now - state->last_write < kKeepAlive / 2) return true;
      out = ": keep-alive\n\n";
    }
    state->last_write = now;
    return sink.Write(out);
  };
  res.Stream(std::move(wake_on), kKeepAlive, std::move(pump));
  return Status::Ok();
}

}  // namespace

void MountRegistryRoutes(HttpServer& server, Registry& registry) {
  auto bind = [&registry](Status (*handler)(Registry&, const HttpRequest&, HttpResponse&)) {
    return AnswerErrors([&registry, handler](const HttpRequest& req, HttpResponse& res) {
      return handler(registry, req, res);
    });
  };
  // Every write names one service's instance: a scoped token may only make
  // it for a service of its own (deregistering another's is an operator's).
  auto bind_write = [&registry](Status (*handler)(Registry&, const HttpRequest&, HttpResponse&)) {
    return AnswerErrors([&registry, handler](const HttpRequest& req, HttpResponse& res) {
      HIVE_RETURN_IF_ERROR(
          CheckScope(req.principal, req.PathParam("service"), ScopeTarget::kService));
      return handler(registry, req, res);
    });
  };
  const RouteOptions agent_write{Access::kAgent, kMaxWriteBodyBytes};
  server.Route("PUT", "/api/v1/services/{service}/instances/{id}", agent_write,
               bind_write(HandleRegister));
  // The hot path: a heartbeat that only renews the lease touches memory only
  // (it writes to disk when the reported health changes, rarely), so it runs
  // on the I/O thread, as do the reads below.
  server.Route("PUT", "/api/v1/services/{service}/instances/{id}/heartbeat",
               {Access::kAgent, kMaxWriteBodyBytes, /*nonblocking=*/true},
               bind_write(HandleHeartbeat));
  server.Route("DELETE", "/api/v1/services/{service}/instances/{id}", agent_write,
               bind_write(HandleDeregister));
  server.Route("PUT", "/api/v1/services/{service}/instances/{id}/maintenance",
               {Access::kOperate, kMaxWriteBodyBytes}, bind_write(HandleMaintenance));
  const RouteOptions read_in_memory{Access::kRead, 0, /*nonblocking=*/true};
  server.Route("GET", "/api/v1/services", read_in_memory, bind(HandleList));
  server.Route("GET", "/api/v1/events", read_in_memory, bind(HandleEvents));
  auto cache = std::make_shared<WatchResponseCache>();
  server.Route("GET", "/api/v1/services/{service}", read_in_memory,
               AnswerErrors([&registry, cache](const HttpRequest& req, HttpResponse& res) {
                 return HandleGet(registry, cache, req, res);
               }));
}

}  // namespace hive::registry
