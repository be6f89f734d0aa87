#include "hive/config_store/config_store_service.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>

#include "hive/core/json_writer.h"
#include "hive/core/text.h"

namespace hive::config_store {
namespace {

constexpr Duration kDefaultWait = std::chrono::seconds(30);
constexpr Duration kMaxWait = std::chrono::minutes(5);
constexpr size_t kMaxRollbackBodyBytes = 64u << 10;
constexpr size_t kMaxAppliedBodyBytes = 64u << 10;
constexpr size_t kDefaultAuditLimit = 100;

// Admins and agents read secrets in clear (an agent renders them into its
// service's file); readers and operators see them redacted, and so does
// anyone who asks with ?redact=true (the dashboard always does: a screen
// is no place for a password). A redact value that is not a yes/no is an
// error; handlers check it with RedactParam() before doing any work.
Status RedactParam(const HttpRequest& req) { return req.BoolQuery("redact").status(); }

bool ShowsSecrets(const HttpRequest& req) {
  const Role role = req.principal.role;
  Result<bool> redact = req.BoolQuery("redact");
  return (role == Role::kAdmin || role == Role::kAgent) && redact.ok() && !*redact;
}

Properties ForReader(const Properties& properties, const HttpRequest& req) {
  return ShowsSecrets(req) ? properties : RedactSecrets(properties);
}

PropertyDiff ForReader(const PropertyDiff& diff, const HttpRequest& req) {
  return ShowsSecrets(req) ? diff : RedactSecrets(diff);
}

// A decimal integer that fills `text` entirely.
Result<int64_t> ParseInt(std::string_view text, std::string_view what) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument(std::string(what) + " must be an integer, not '" +
                                   std::string(text.substr(0, 64)) + "'");
  }
  return value;
}

Result<int64_t> ParseVersion(std::string_view text, std::string_view what) {
  auto v = ParseInt(text, what);
  if (v.ok() && *v < 0) {
    return Status::InvalidArgument(std::string(what) + " must not be negative");
  }
  return v;
}

// The principal's name, the message header and If-Match of a write.
Result<WriteRequest> WriteRequestFrom(const HttpRequest& req) {
  WriteRequest out;
  out.app = std::string(req.PathParam("app"));
  out.profile = std::string(req.PathParam("profile"));
  out.author = req.principal.name;
  out.message = req.HeaderValue("X-Hive-Message").value_or("");
  HIVE_RETURN_IF_ERROR(RedactParam(req));
  Result<bool> dry_run = req.BoolQuery("dry_run");
  if (!dry_run.ok()) return dry_run.status();
  out.dry_run = *dry_run;
  if (auto if_match = req.HeaderValue("If-Match")) {
    std::string_view v = Trim(*if_match);
    // Tolerate the quoted entity-tag form: If-Match: "3".
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    auto version = ParseVersion(v, "If-Match (the version expected to be current)");
    if (!version.ok()) return version.status();
    out.if_match = *version;
  }
  return out;
}

void VersionInfoFields(JsonWriter& w, const VersionInfo& info) {
  w.Field("version", info.version)
      .Field("author", info.author)
      .Field("message", info.message)
      .Field("created_at", FormatRfc3339(info.created_at))
      .Field("hash", info.hash)
      .Field("keys", info.key_count)
      .Field("deleted", info.deleted);
}

void KeyList(JsonWriter& w, std::string_view name, const std::vector<std::string>& keys) {
  w.Key(name).BeginArray();
  for (const auto& key : keys) w.String(key);
  w.EndArray();
}

void SecretKeys(JsonWriter& w, const Properties& properties) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : properties) {
    if (value.secret()) keys.push_back(key);
  }
  KeyList(w, "secret_keys", keys);
}

void PropertiesField(JsonWriter& w, const Properties& properties) {
  w.Key("properties").RawWith([&](std::string& out) { AppendPropertiesJson(out, properties); });
}

void DiffField(JsonWriter& w, const PropertyDiff& diff) {
  w.Key("diff").RawWith([&](std::string& out) { AppendDiffJson(out, diff); });
}

Status AnswerPush(const Result<PushResult>& result, const HttpRequest& req,
                  const WriteRequest& request, HttpResponse& res) {
  if (!result.ok()) return result.status();
  JsonWriter w;
  w.BeginObject()
      .Field("app", request.app)
      .Field("profile", request.profile)
      .Field("version", result->version)
      .Field("changed", result->changed)
      .Field("index", result->index);
  if (request.dry_run) w.Field("dry_run", true);
  DiffField(w, ForReader(result->diff, req));
  res.SetJson(w.EndObject().Take());
  res.SetHeader("X-Hive-Index", std::to_string(result->index));
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<ConfigStoreService>> ConfigStoreService::Open(ConfigStoreOptions options) {
  auto store = ConfigStore::Open(options);
  if (!store.ok()) return store.status();
  auto rollout = RolloutTracker::Open(options.data_dir, options.clock, options.metrics);
  if (!rollout.ok()) return rollout.status();
  return std::unique_ptr<ConfigStoreService>(
      new ConfigStoreService(std::move(*store), std::move(*rollout)));
}

void ConfigStoreService::Mount(hive::HttpServer& server) {
  const std::string base = "/api/v1/config/{app}/{profile}";
  // Every route names an application: a scoped token reads only its own
  // applications' and the shared defaults, and writes or reports only its own.
  auto bind = [this](Status (ConfigStoreService::*handler)(const HttpRequest&, HttpResponse&),
                     bool writes) {
    return AnswerErrors([this, handler, writes](const HttpRequest& req, HttpResponse& res) {
      const std::string_view app = req.PathParam("app");
      if (writes || app != kSharedApplication) {
        HIVE_RETURN_IF_ERROR(CheckScope(req.principal, app, ScopeTarget::kApplication));
      }
      return (this->*handler)(req, res);
    });
  };
  auto read = [&](auto handler) { return bind(handler, false); };
  auto write = [&](auto handler) { return bind(handler, true); };
  server.Route("PUT", base, {Access::kOperate, kMaxDocumentBytes},
               write(&ConfigStoreService::HandlePush));
  server.Route("GET", base, {Access::kRead}, read(&ConfigStoreService::HandleGet));
  server.Route("GET", base + "/history", {Access::kRead}, read(&ConfigStoreService::HandleHistory));
  server.Route("GET", base + "/versions/{version}", {Access::kRead},
               read(&ConfigStoreService::HandleVersion));
  server.Route("POST", base + "/rollback", {Access::kOperate, kMaxRollbackBodyBytes},
               write(&ConfigStoreService::HandleRollback));
  server.Route("DELETE", base, {Access::kOperate, kMaxRollbackBodyBytes},
               write(&ConfigStoreService::HandleDelete));
  server.Route("GET", base + "/diff", {Access::kRead}, read(&ConfigStoreService::HandleDiff));
  server.Route("PUT", base + "/applied/{instance}", {Access::kAgent, kMaxAppliedBodyBytes},
               write(&ConfigStoreService::HandleApplied));
  server.Route("GET", base + "/rollout", {Access::kRead}, read(&ConfigStoreService::HandleRollout));
  server.Route("GET", "/api/v1/audit", {Access::kRead},
               AnswerErrors([this](const HttpRequest& req, HttpResponse& res) {
                 return HandleAudit(req, res);
               }));
}

void ConfigStoreService::Stop() { store_->Stop(); }

Status ConfigStoreService::HandlePush(const HttpRequest& req, HttpResponse& res) {
  auto request = WriteRequestFrom(req);
  if (!request.ok()) return request.status();
  auto format = FormatForContentType(req.HeaderValue("Content-Type").value_or(""));
  if (!format.ok()) return format.status();
  return AnswerPush(store_->PushDocument(*request, *format, req.body), req, *request, res);
}

Status ConfigStoreService::HandleGet(const HttpRequest& req, HttpResponse& res) {
  Status s = StartGet(req, res);
  // Watchers need the index even from an error, to know where to resume.
  if (!s.ok()) res.SetHeader("X-Hive-Index", std::to_string(store_->index()));
  return s;
}

// A read, or a blocking query (?index=) parked until the document changes.
Status ConfigStoreService::StartGet(const HttpRequest& req, HttpResponse& res) {
  HIVE_RETURN_IF_ERROR(RedactParam(req));
  auto index_param = req.Query("index");
  if (!index_param) return RenderEffective(req, res);
  auto after = ParseVersion(*index_param, "index");
  if (!after.ok()) return after.status();
  Duration wait = kDefaultWait;
  if (auto wait_param = req.Query("wait")) {
    auto parsed = ParseDuration(*wait_param);
    if (!parsed.ok()) return parsed.status().WithContext("wait");
    wait = std::min(*parsed, kMaxWait);
  }
  std::string app(req.PathParam("app"));
  std::string profile(req.PathParam("profile"));
  HIVE_RETURN_IF_ERROR(ValidateDocumentName(app, profile));
  ConfigStore* store = store_.get();
  auto wake_on = [store, app, profile](Notifier::Listener wake) {
    Result<Subscription> sub = store->SubscribeChanges(app, profile, std::move(wake));
    return sub.ok() ? std::move(*sub) : Subscription();
  };
  res.Wait(std::move(wake_on), wait,
           [this, store, &req, app, profile, after = *after](HttpResponse& r, bool last) {
             if (!last && !store->ChangedSince(app, profile, after)) return false;
             if (Status s = RenderEffective(req, r); !s.ok()) {
               r.SetError(s);
               r.SetHeader("X-Hive-Index", std::to_string(store_->index()));
             }
             return true;
           });
  return Status::Ok();
}

// The effective configuration as JSON; secrets as the caller's role and
// ?redact allow.
Status ConfigStoreService::RenderEffective(const HttpRequest& req, HttpResponse& res) {
  auto config = store_->GetEffective(req.PathParam("app"), req.PathParam("profile"));
  if (!config.ok()) return config.status();
  JsonWriter w;
  w.BeginObject()
      .Field("app", config->app)
      .Field("profile", config->profile)
      .Field("version", config->version)
      .Field("index", config->index);
  PropertiesField(w, ForReader(config->properties, req));
  SecretKeys(w, config->properties);
  w.Key("property_sources").BeginObject();
  for (const auto& [key, source] : config->property_sources) w.Field(key, source);
  w.EndObject().Key("sources").BeginArray();
  for (const auto& source : config->sources) {
    w.BeginObject()
        .Field("app", source.app)
        .Field("profile", source.profile)
        .Field("version", source.version)
        .EndObject();
  }
  res.SetJson(w.EndArray().EndObject().Take());
  res.SetHeader("X-Hive-Index", std::to_string(config->index));
  return Status::Ok();
}

Status ConfigStoreService::HandleHistory(const HttpRequest& req, HttpResponse& res) {
  auto history = store_->History(req.PathParam("app"), req.PathParam("profile"));
  if (!history.ok()) return history.status();
  JsonWriter w;
  w.BeginObject().Field("app", req.PathParam("app")).Field("profile", req.PathParam("profile"));
  w.Key("versions").BeginArray();
  for (const auto& info : *history) {
    w.BeginObject();
    VersionInfoFields(w, info);
    w.EndObject();
  }
  res.SetJson(w.EndArray().EndObject().Take());
  res.SetHeader("X-Hive-Index", std::to_string(store_->index()));
  return Status::Ok();
}

Status ConfigStoreService::HandleVersion(const HttpRequest& req, HttpResponse& res) {
  HIVE_RETURN_IF_ERROR(RedactParam(req));
  auto version = ParseVersion(req.PathParam("version"), "version");
  if (!version.ok()) return version.status();
  auto doc = store_->GetVersion(req.PathParam("app"), req.PathParam("profile"), *version);
  if (!doc.ok()) return doc.status();
  JsonWriter w;
  w.BeginObject().Field("app", doc->info.app).Field("profile", doc->info.profile);
  VersionInfoFields(w, doc->info);
  PropertiesField(w, ForReader(doc->properties, req));
  SecretKeys(w, doc->properties);
  res.SetJson(w.EndObject().Take());
  res.SetHeader("X-Hive-Index", std::to_string(store_->index()));
  return Status::Ok();
}

Status ConfigStoreService::HandleRollback(const HttpRequest& req, HttpResponse& res) {
  auto request = WriteRequestFrom(req);
  if (!request.ok()) return request.status();
  std::optional<int64_t> to;
  if (!Trim(req.body).empty()) {
    // The body is a tiny JSON object; the document parser reads it as well.
    auto fields = ParseJsonDocument(req.body);
    if (!fields.ok()) return fields.status().WithContext("rollback body");
    for (const auto& [key, value] : *fields) {
      if (key != "to") {
        return Status::InvalidArgument("rollback body: unknown field '" + key +
                                       "' (expected {\"to\": <version>})");
      }
      if (value.type() != ValueType::kNumber) {
        return Status::InvalidArgument("rollback body: \"to\" must be a version number");
      }
      auto version = ParseInt(value.text(), "rollback body: \"to\"");
      if (!version.ok()) return version.status();
      to = *version;
    }
  }
  return AnswerPush(store_->Rollback(*request, to), req, *request, res);
}

Status ConfigStoreService::HandleDelete(const HttpRequest& req, HttpResponse& res) {
  auto request = WriteRequestFrom(req);
  if (!request.ok()) return request.status();
  return AnswerPush(store_->Delete(*request), req, *request, res);
}

Status ConfigStoreService::HandleDiff(const HttpRequest& req, HttpResponse& res) {
  HIVE_RETURN_IF_ERROR(RedactParam(req));
  const std::string_view app = req.PathParam("app");
  const std::string_view profile = req.PathParam("profile");
  auto current = store_->CurrentVersion(app, profile);
  if (!current.ok()) return current.status();
  auto version_param = [&](std::string_view name, int64_t fallback) -> Result<int64_t> {
    auto text = req.Query(name);
    return text ? ParseVersion(*text, name) : Result<int64_t>(fallback);
  };
  auto to = version_param("to", *current);
  if (!to.ok()) return to.status();
  auto from = version_param("from", std::max<int64_t>(*to - 1, 0));
  if (!from.ok()) return from.status();
  auto diff = store_->Diff(app, profile, *from, *to);
  if (!diff.ok()) return diff.status();
  JsonWriter w;
  w.BeginObject().Field("app", app).Field("profile", profile).Field("from", *from).Field("to", *to);
  DiffField(w, ForReader(*diff, req));
  res.SetJson(w.EndObject().Take());
  return Status::Ok();
}

namespace {

// An agent's report of what it applied: {"version": N, "status": "applied" |
// "failed", "message": "..."}.
Result<InstanceRollout> ReadRolloutReport(const HttpRequest& req) {
  auto fields = ParseJsonDocument(req.body);
  if (!fields.ok()) return fields.status().WithContext("rollout report");
  auto field = [&](const char* name) -> const Value* {
    auto it = fields->find(name);
    return it == fields->end() ? nullptr : &it->second;
  };
  const Value* version = field("version");
  const Value* status = field("status");
  const Value* message = field("message");
  if (version == nullptr || version->type() != ValueType::kNumber) {
    return Status::InvalidArgument("rollout report: \"version\" must be a version number");
  }
  if (status == nullptr || status->type() != ValueType::kString) {
    return Status::InvalidArgument("rollout report: \"status\" must be \"applied\" or \"failed\"");
  }
  if (message != nullptr && message->type() != ValueType::kString) {
    return Status::InvalidArgument("rollout report: \"message\" must be a string");
  }
  auto parsed_version = ParseVersion(version->text(), "rollout report: \"version\"");
  if (!parsed_version.ok()) return parsed_version.status();
  auto parsed_status = ParseRolloutStatus(status->text());
  if (!parsed_status.ok()) return parsed_status.status();
  InstanceRollout report;
  report.instance = std::string(req.PathParam("instance"));
  report.version = *parsed_version;
  report.status = *parsed_status;
  if (message != nullptr) report.message = message->text();
  return report;
}

}  // namespace

Status ConfigStoreService::HandleApplied(const HttpRequest& req, HttpResponse& res) {
  const std::string_view app = req.PathParam("app");
  const std::string_view profile = req.PathParam("profile");
  Result<InstanceRollout> report = ReadRolloutReport(req);
  if (!report.ok()) return report.status();
  auto current = store_->CurrentVersion(app, profile);
  if (!current.ok()) return current.status();
  if (report->version > *current) {
    return Status::InvalidArgument(
        "rollout report: " + std::string(app) + "/" + std::string(profile) + " has no version " +
        std::to_string(report->version) + " (current is " + std::to_string(*current) + ")");
  }
  HIVE_RETURN_IF_ERROR(rollout_->Report(app, profile, *report));
  JsonWriter w;
  w.BeginObject()
      .Field("app", app)
      .Field("profile", profile)
      .Field("instance", report->instance)
      .Field("version", report->version)
      .Field("status", RolloutStatusName(report->status));
  res.SetJson(w.EndObject().Take());
  return Status::Ok();
}

Status ConfigStoreService::HandleRollout(const HttpRequest& req, HttpResponse& res) {
  const std::string_view app = req.PathParam("app");
  const std::string_view profile = req.PathParam("profile");
  auto current = store_->CurrentVersion(app, profile);
  if (!current.ok()) return current.status();
  auto instances = rollout_->Instances(app, profile);
  if (!instances.ok()) return instances.status();
  JsonWriter w;
  w.BeginObject().Field("app", app).Field("profile", profile).Field("version", *current);
  w.Key("instances").BeginArray();
  for (const auto& i : *instances) {
    w.BeginObject()
        .Field("instance", i.instance)
        .Field("version", i.version)
        .Field("status", RolloutStatusName(i.status))
        .Field("message", i.message)
        .Field("updated_at", FormatRfc3339(i.updated_at))
        .EndObject();
  }
  res.SetJson(w.EndArray().EndObject().Take());
  return Status::Ok();
}

Status ConfigStoreService::HandleAudit(const HttpRequest& req, HttpResponse& res) {
  AuditQuery query;
  query.app = req.Query("app").value_or("");
  // A scoped token reads the audit of one of its own applications at a time.
  if (req.principal.scoped()) {
    if (query.app.empty()) {
      return Status::PermissionDenied("token '" + req.principal.name +
                                      "' is scoped to some services: ask for one with ?app=");
    }
    HIVE_RETURN_IF_ERROR(CheckScope(req.principal, query.app, ScopeTarget::kApplication));
  }
  query.profile = req.Query("profile").value_or("");
  query.limit = kDefaultAuditLimit;
  if (auto limit = req.Query("limit")) {
    auto parsed = ParseInt(*limit, "limit");
    if (!parsed.ok() || *parsed < 1 || *parsed > static_cast<int64_t>(kMaxAuditLimit)) {
      return Status::InvalidArgument("limit must be an integer from 1 to " +
                                     std::to_string(kMaxAuditLimit));
    }
    query.limit = static_cast<size_t>(*parsed);
  }
  auto entries = store_->Audit(query);
  if (!entries.ok()) return entries.status();
  JsonWriter w;
  w.BeginObject().Key("entries").BeginArray();
  for (const auto& e : *entries) {
    w.BeginObject()
        .Field("id", e.id)
        .Field("at", FormatRfc3339(e.at))
        .Field("actor", e.actor)
        .Field("action", AuditActionName(e.action))
        .Field("app", e.app)
        .Field("profile", e.profile)
        .Field("version", e.version)
        .Field("message", e.message);
    KeyList(w, "added", e.added);
    KeyList(w, "removed", e.removed);
    KeyList(w, "changed", e.changed);
    w.EndObject();
  }
  res.SetJson(w.EndArray().EndObject().Take());
  return Status::Ok();
}

}  // namespace hive::config_store
