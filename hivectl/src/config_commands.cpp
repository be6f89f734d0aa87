#include "config_commands.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "hive/core/text.h"
#include "hive/ctl/hivectl.h"
#include "output.h"

namespace hive::ctl {
namespace {

using nlohmann::json;
using namespace cli;  // NOLINT: the helpers shared by the command files

constexpr std::string_view kSecretPrefix = "{secret}";
constexpr auto kRolloutPollInterval = std::chrono::milliseconds(250);
constexpr int kProgressBarWidth = 30;

std::string ConfigPath(const std::string& app, const std::string& profile) {
  return "/api/v1/config/" + app + "/" + profile;
}

std::string Label(const std::string& app, const std::string& profile) {
  return app + "/" + profile;
}

Status ValidateAppProfile(const std::string& app, const std::string& profile) {
  HIVE_RETURN_IF_ERROR(ValidateName(app, "application"));
  return ValidateName(profile, "profile");
}

// A value typed as the user most likely meant it: JSON numbers, true, false
// and null keep their type; anything else is a string.
json TypedValue(const std::string& text) {
  json v = json::parse(text, nullptr, false);
  if (!v.is_discarded() && (v.is_number() || v.is_boolean() || v.is_null())) return v;
  return text;
}

// The Content-Type hived parses a file as, by its extension.
std::optional<std::string> ContentTypeFor(const std::string& path) {
  if (path.ends_with(".json")) return "application/json";
  if (path.ends_with(".yaml") || path.ends_with(".yml")) return "application/yaml";
  if (path.ends_with(".properties")) return "text/x-java-properties";
  return std::nullopt;
}

// The document `config push` sends: a file as it is, or key=value arguments
// (and --secret ones) as a JSON object.
Status BuildDocument(const std::vector<std::string>& args, const std::vector<std::string>& secrets,
                     std::string* body, std::string* content_type) {
  const auto is_assignment = [](const std::string& a) { return a.find('=') != std::string::npos; };
  const bool any_file = !std::all_of(args.begin(), args.end(), is_assignment);
  if (any_file) {
    if (args.size() > 1) {
      return Status::InvalidArgument("give either one file or key=value arguments, not both");
    }
    if (!secrets.empty()) {
      return Status::InvalidArgument(
          "--secret goes with key=value arguments; in a file, mark a secret value with the "
          "{secret} prefix, e.g. password: \"{secret}hunter2\"");
    }
    const std::string& path = args[0];
    auto type = ContentTypeFor(path);
    if (!type) {
      return Status::InvalidArgument("'" + path +
                                     "': expected key=value or a .json, .yaml, .yml or "
                                     ".properties file");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::InvalidArgument("cannot read '" + path + "': " + std::strerror(errno));
    std::ostringstream content;
    content << in.rdbuf();
    if (in.bad()) return Status::InvalidArgument("cannot read '" + path + "'");
    *body = content.str();
    *content_type = *type;
    return Status::Ok();
  }
  json doc = json::object();
  auto add = [&](const std::string& arg, bool secret) -> Status {
    const size_t eq = arg.find('=');
    const std::string key = eq == std::string::npos ? arg : arg.substr(0, eq);
    if (eq == std::string::npos || key.empty() ||
        key.find_first_of(" \t\r\n") != std::string::npos) {
      return Status::InvalidArgument("malformed argument '" + arg +
                                     "': expected key=value with a non-empty key without spaces");
    }
    if (doc.contains(key)) return Status::InvalidArgument("key '" + key + "' is given twice");
    const std::string value = arg.substr(eq + 1);
    doc[key] = secret ? json(std::string(kSecretPrefix) + value) : TypedValue(value);
    return Status::Ok();
  };
  for (const std::string& arg : args) HIVE_RETURN_IF_ERROR(add(arg, false));
  for (const std::string& arg : secrets) HIVE_RETURN_IF_ERROR(add(arg, true));
  *body = doc.dump(-1, ' ', false, json::error_handler_t::replace);
  *content_type = "application/json";
  return Status::Ok();
}

// Header values cannot carry line breaks.
std::string HeaderSafe(std::string text) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return text;
}

// `diff` as hived answers it ({"added","removed","changed"}), one line per
// key in key order: "+ key=value", "- key=value", "~ key: old → new".
std::vector<std::string> DiffLines(const json& diff) {
  std::map<std::string, std::string> lines;
  const json& added = Object(diff, "added");
  for (auto it = added.begin(); it != added.end(); ++it) {
    lines[it.key()] = "+ " + it.key() + "=" + ValueText(*it);
  }
  const json& removed = Object(diff, "removed");
  for (auto it = removed.begin(); it != removed.end(); ++it) {
    lines[it.key()] = "- " + it.key() + "=" + ValueText(*it);
  }
  const json& changed = Object(diff, "changed");
  for (auto it = changed.begin(); it != changed.end(); ++it) {
    lines[it.key()] = "~ " + it.key() + ": " + Text(*it, "from") + " → " + Text(*it, "to");
  }
  std::vector<std::string> out;
  for (auto& [key, line] : lines) out.push_back(std::move(line));
  return out;
}

void PrintDiff(Session& s, const json& diff) {
  for (const auto& line : DiffLines(diff)) *s.out << line << '\n';
}

bool Changed(const json& answer) {
  return !(answer.is_object() && answer.contains("changed") && answer["changed"] == false);
}

// A property key as a YAML key: quoted unless it is a plain identifier.
std::string YamlKey(const std::string& key) {
  const bool plain = !key.empty() && std::isalnum(static_cast<unsigned char>(key[0])) &&
                     key.find_first_of("[]") == std::string::npos;
  return plain ? key : json(key).dump();
}

// Flat `key: value` YAML (Spring Boot reads dotted keys as nested ones); JSON
// scalars are valid YAML flow scalars.
void PrintYaml(Session& s, const json& properties) {
  for (auto it = properties.begin(); it != properties.end(); ++it) {
    *s.out << YamlKey(it.key()) << ": " << it->dump(-1, ' ', false, json::error_handler_t::replace)
           << '\n';
  }
}

void PrintProperties(Session& s, const json& properties) {
  for (auto it = properties.begin(); it != properties.end(); ++it) {
    std::string line;
    AppendPropertiesEscaped(line, it.key(), /*is_key=*/true);
    line += '=';
    if (!it->is_null()) AppendPropertiesEscaped(line, ValueText(*it), /*is_key=*/false);
    *s.out << line << '\n';
  }
}

std::string ProgressBar(size_t done, size_t total) {
  const int filled =
      total == 0 ? kProgressBarWidth : static_cast<int>(done * kProgressBarWidth / total);
  return "[" + std::string(filled, '#') + std::string(kProgressBarWidth - filled, '.') + "]";
}

}  // namespace

ConfigCommands::ConfigCommands(CLI::App& app) {
  config_ = app.add_subcommand("config", "push, read, diff, roll back and delete configuration");
  config_->require_subcommand(1);
  auto add_document = [this](CLI::App* cmd) {
    cmd->add_option("app", app_, "application")->required();
    cmd->add_option("--profile", profile_, "profile, e.g. prod")->required();
  };

  push_ = config_->add_subcommand("push", "push a configuration document");
  add_document(push_);
  push_
      ->add_option("document", documents_,
                   "a .json, .yaml or .properties file, or key=value ... (numbers, true, false "
                   "and null keep their JSON type)")
      ->required();
  push_->add_option("--secret", secrets_,
                    "key=value stored encrypted and shown redacted (repeatable; with key=value "
                    "arguments; in a file write \"{secret}value\")");
  push_->add_option("-m,--message", message_, "change message recorded in the history");
  push_->add_option("--if-version", if_version_,
                    "push only if the current version is N (compare-and-set)");
  push_->add_flag("--dry-run", dry_run_,
                  "show the diff against the current version of this document; push nothing");
  push_->add_flag("--wait", wait_,
                  "wait until every healthy instance of the application applied the push");
  push_->add_option("--timeout", wait_timeout_, "how long --wait waits, e.g. 60s")
      ->capture_default_str();

  get_ = config_->add_subcommand("get", "show the effective configuration");
  add_document(get_);
  get_->add_option("--key", key_, "show one key only");
  get_->add_option("-o,--output", format_, "table, json, yaml or properties")
      ->check(CLI::IsMember({"table", "json", "yaml", "properties"}));

  history_ = config_->add_subcommand("history", "list the versions of a configuration");
  add_document(history_);

  diff_ = config_->add_subcommand("diff", "keys added, removed and changed between two versions");
  add_document(diff_);
  diff_->add_option("--from", from_, "older version (default: the one before --to)");
  diff_->add_option("--to", to_, "newer version (default: the current one)");

  rollback_ = config_->add_subcommand("rollback", "make an earlier version current again");
  add_document(rollback_);
  rollback_->add_option("--to", to_, "the version to return to (default: the previous one)");
  rollback_->add_option("-m,--message", message_, "change message recorded in the history");

  delete_ = config_->add_subcommand("delete", "delete a document (its history is kept)");
  add_document(delete_);
  delete_->add_option("-m,--message", message_, "change message recorded in the history");
  delete_->add_option("--if-version", if_version_,
                      "delete only if the current version is N (compare-and-set)");

  rollout_ = config_->add_subcommand("rollout", "which version each instance has applied");
  add_document(rollout_);

  audit_ = app.add_subcommand("audit", "who changed which configuration, newest first");
  audit_->add_option("--app", app_, "only this application");
  audit_->add_option("--profile", profile_, "only this profile");
  audit_->add_option("--limit", limit_, "at most N entries (default 100)")
      ->check(CLI::Range(1, 1000));
}

bool ConfigCommands::chosen() const { return config_->parsed() || audit_->parsed(); }

int ConfigCommands::Run(Session& s) {
  if (audit_->parsed()) return Audit(s);
  if (Status st = ValidateAppProfile(app_, profile_); !st.ok()) return UsageError(s, st.message());
  if (push_->parsed()) return Push(s);
  if (get_->parsed()) return Get(s);
  if (history_->parsed()) return History(s);
  if (diff_->parsed()) return Diff(s);
  if (rollback_->parsed()) return Rollback(s);
  if (delete_->parsed()) return Delete(s);
  return Rollout(s);
}

int ConfigCommands::Push(Session& s) {
  std::string body;
  std::string content_type;
  if (Status st = BuildDocument(documents_, secrets_, &body, &content_type); !st.ok()) {
    return UsageError(s, st.message());
  }
  auto timeout = ParseDuration(wait_timeout_);
  if (!timeout.ok()) {
    return UsageError(s, "bad --timeout '" + wait_timeout_ + "': expected a duration like 60s");
  }
  std::vector<Header> headers;
  if (if_version_) headers.emplace_back("If-Match", std::to_string(*if_version_));
  if (!message_.empty()) headers.emplace_back("X-Hive-Message", HeaderSafe(message_));
  const std::string label = Label(app_, profile_);
  std::string target = ConfigPath(app_, profile_);
  if (dry_run_) target += "?dry_run=true";
  json answer;
  if (int rc = Call(s, "PUT", target, &answer,
                    {.payload = body, .headers = headers, .content_type = content_type})) {
    return rc;
  }
  const bool changed = Changed(answer);
  const int64_t version = answer.value("version", int64_t{0});
  if (s.json_output) {
    PrintJson(s, answer);
  } else if (dry_run_) {
    if (!changed) {
      *s.out << label << ": no changes (version " << version << "); nothing pushed\n";
    } else {
      *s.out << label << ": dry run against version " << version - 1 << "; nothing pushed\n";
      PrintDiff(s, Object(answer, "diff"));
    }
  } else if (changed) {
    *s.out << label << ": version " << version << '\n';
    PrintDiff(s, Object(answer, "diff"));
  } else {
    *s.out << label << ": unchanged (version " << version << ")\n";
  }
  if (!wait_ || dry_run_) return kExitOk;
  return WaitForRollout(s, version);
}

int ConfigCommands::WaitForRollout(Session& s, int64_t version) {
  const Duration timeout = *ParseDuration(wait_timeout_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string label = Label(app_, profile_);
  std::string last_line;
  while (true) {
    json services;
    if (int rc = Call(s, "GET", "/api/v1/services/" + app_ + "?healthy=true", &services)) {
      return rc;
    }
    json rollout;
    if (int rc = Call(s, "GET", ConfigPath(app_, profile_) + "/rollout", &rollout)) return rc;
    std::map<std::string, const json*> reports;
    for (const json& r : Array(rollout, "instances")) reports[Text(r, "instance")] = &r;

    size_t applied = 0;
    std::vector<std::string> waiting;
    for (const json& inst : Array(services, "instances")) {
      const std::string id = Text(inst, "id");
      auto it = reports.find(id);
      const json* report = it == reports.end() ? nullptr : it->second;
      const int64_t reported = report ? report->value("version", int64_t{0}) : 0;
      if (report && reported >= version && Text(*report, "status") == "failed") {
        if (!last_line.empty()) *s.out << '\n';
        *s.err << "error: " << id << " failed to apply " << label << " version " << reported << ": "
               << Text(*report, "message") << '\n';
        return kExitServerError;
      }
      if (report && reported >= version) {
        ++applied;
      } else {
        waiting.push_back(id);
      }
    }
    const size_t total = applied + waiting.size();
    std::string line = ProgressBar(applied, total) + " " + std::to_string(applied) + "/" +
                       std::to_string(total) + " healthy instances applied version " +
                       std::to_string(version);
    if (line != last_line) {
      *s.out << '\r' << line << std::flush;
      last_line = line;
    }
    if (waiting.empty()) {
      *s.out << '\n' << label << ": version " << version << " applied by every healthy instance\n";
      return kExitOk;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string names;
      for (size_t i = 0; i < waiting.size() && i < 10; ++i) names += (i ? ", " : "") + waiting[i];
      if (waiting.size() > 10) names += ", ...";
      *s.out << '\n';
      *s.err << "error: timed out after " << FormatDuration(timeout) << ": " << applied << "/"
             << total << " healthy instances applied version " << version << "; waiting for "
             << names << '\n';
      return kExitServerError;
    }
    std::this_thread::sleep_for(kRolloutPollInterval);
  }
}

int ConfigCommands::Get(Session& s) {
  json body;
  if (int rc = Call(s, "GET", ConfigPath(app_, profile_), &body)) return rc;
  json properties = Object(body, "properties");
  const std::string label = Label(app_, profile_);
  if (key_) {
    if (!properties.contains(*key_)) {
      *s.err << "error: key '" << *key_ << "' is not set in " << label << '\n';
      return kExitServerError;
    }
    properties = json{{*key_, properties[*key_]}};
  }
  const std::string format = !format_.empty() ? format_ : s.json_output ? "json" : "table";
  if (format == "json") {
    PrintJson(s, key_ ? properties[*key_] : body);
    return kExitOk;
  }
  if (format == "yaml") {
    PrintYaml(s, properties);
    return kExitOk;
  }
  if (format == "properties") {
    PrintProperties(s, properties);
    return kExitOk;
  }
  if (properties.empty()) {
    *s.out << label << ": no properties (version " << Text(body, "version") << ")\n";
    return kExitOk;
  }
  // "property_sources" maps each key to the "app/profile" layer it comes from.
  const json& sources = Object(body, "property_sources");
  Table table({"KEY", "VALUE", "SOURCE"});
  for (auto it = properties.begin(); it != properties.end(); ++it) {
    const std::string source = Text(sources, it.key().c_str());
    table.AddRow({it.key(), ValueText(*it), source.empty() ? "-" : source});
  }
  table.Print(*s.out);
  return kExitOk;
}

int ConfigCommands::History(Session& s) {
  json body;
  if (int rc = Call(s, "GET", ConfigPath(app_, profile_) + "/history", &body)) return rc;
  if (PrintedAsJson(s, body)) return kExitOk;
  const json& entries = Array(body, "versions");
  if (entries.empty()) {
    *s.out << Label(app_, profile_) << ": no versions yet\n";
    return kExitOk;
  }
  Table table({"VERSION", "AUTHOR", "TIME", "MESSAGE"});
  for (const json& e : entries) {
    std::string message = Text(e, "message");
    if (e.value("deleted", false)) message = "(deleted) " + message;
    table.AddRow({Text(e, "version"), Text(e, "author"), Text(e, "created_at"), message});
  }
  table.Print(*s.out);
  return kExitOk;
}

int ConfigCommands::Diff(Session& s) {
  std::string target = ConfigPath(app_, profile_) + "/diff";
  std::string sep = "?";
  if (from_) {
    target += sep + "from=" + std::to_string(*from_);
    sep = "&";
  }
  if (to_) target += sep + "to=" + std::to_string(*to_);
  json body;
  if (int rc = Call(s, "GET", target, &body)) return rc;
  if (PrintedAsJson(s, body)) return kExitOk;
  const std::vector<std::string> lines = DiffLines(Object(body, "diff"));
  *s.out << Label(app_, profile_) << ": version " << Text(body, "from") << " → " << Text(body, "to")
         << (lines.empty() ? ": no changes" : "") << '\n';
  for (const auto& line : lines) *s.out << line << '\n';
  return kExitOk;
}

int ConfigCommands::Rollback(Session& s) {
  json request = json::object();
  if (to_) request["to"] = *to_;
  std::vector<Header> headers;
  if (!message_.empty()) headers.emplace_back("X-Hive-Message", HeaderSafe(message_));
  json answer;
  if (int rc = Call(s, "POST", ConfigPath(app_, profile_) + "/rollback", &answer,
                    {.payload = request.dump(), .headers = headers})) {
    return rc;
  }
  if (PrintedAsJson(s, answer)) return kExitOk;
  *s.out << Label(app_, profile_) << ": rolled back";
  if (to_) *s.out << " to version " << *to_;
  *s.out << ", now version " << Text(answer, "version") << '\n';
  PrintDiff(s, Object(answer, "diff"));
  return kExitOk;
}

int ConfigCommands::Delete(Session& s) {
  std::vector<Header> headers;
  if (if_version_) headers.emplace_back("If-Match", std::to_string(*if_version_));
  if (!message_.empty()) headers.emplace_back("X-Hive-Message", HeaderSafe(message_));
  json answer;
  if (int rc = Call(s, "DELETE", ConfigPath(app_, profile_), &answer, {.headers = headers})) {
    return rc;
  }
  if (PrintedAsJson(s, answer)) return kExitOk;
  *s.out << Label(app_, profile_) << ": deleted at version " << Text(answer, "version") << '\n';
  return kExitOk;
}

int ConfigCommands::Rollout(Session& s) {
  json body;
  if (int rc = Call(s, "GET", ConfigPath(app_, profile_) + "/rollout", &body)) return rc;
  if (PrintedAsJson(s, body)) return kExitOk;
  const json& instances = Array(body, "instances");
  *s.out << Label(app_, profile_) << ": current version " << Text(body, "version") << '\n';
  if (instances.empty()) {
    *s.out << "no instance has reported yet\n";
    return kExitOk;
  }
  Table table({"INSTANCE", "VERSION", "STATUS", "UPDATED", "MESSAGE"});
  for (const json& i : instances) {
    table.AddRow({Text(i, "instance"), Text(i, "version"), Text(i, "status"),
                  AgoText(i, "updated_at", s.clock->Now()), Text(i, "message")});
  }
  table.Print(*s.out);
  return kExitOk;
}

int ConfigCommands::Audit(Session& s) {
  std::vector<std::pair<std::string, std::string>> params;
  if (!app_.empty()) {
    if (Status st = ValidateName(app_, "application"); !st.ok()) {
      return UsageError(s, st.message());
    }
    params.emplace_back("app", app_);
  }
  if (!profile_.empty()) {
    if (Status st = ValidateName(profile_, "profile"); !st.ok()) {
      return UsageError(s, st.message());
    }
    params.emplace_back("profile", profile_);
  }
  if (limit_ > 0) params.emplace_back("limit", std::to_string(limit_));
  json body;
  if (int rc = Call(s, "GET", WithQuery("/api/v1/audit", params), &body)) return rc;
  if (PrintedAsJson(s, body)) return kExitOk;
  const json& entries = Array(body, "entries");
  if (entries.empty()) {
    *s.out << "no configuration changes recorded\n";
    return kExitOk;
  }
  Table table({"TIME", "ACTOR", "ACTION", "DOCUMENT", "VERSION", "KEYS", "MESSAGE"});
  for (const json& e : entries) {
    std::string keys;
    for (const auto& [field, mark] :
         {std::pair<const char*, const char*>{"added", "+"}, {"removed", "-"}, {"changed", "~"}}) {
      for (const json& k : Array(e, field)) {
        if (!keys.empty()) keys += ' ';
        keys += mark + ValueText(k);
      }
    }
    table.AddRow({Text(e, "at"), Text(e, "actor"), Text(e, "action"),
                  Text(e, "app") + "/" + Text(e, "profile"), Text(e, "version"), keys,
                  Text(e, "message")});
  }
  table.Print(*s.out);
  return kExitOk;
}

}  // namespace hive::ctl
