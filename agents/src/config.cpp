#include "hive/agent/config.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "hive/core/http.h"
#include "hive/core/text.h"
#include "line_parser.h"

namespace hive::agent {
namespace {

// Builds errors that name the file, the line and the key.
class ErrorContext {
 public:
  explicit ErrorContext(std::string_view file) : file_(file) {}

  Status Error(const YAML::Node& node, std::string_view key, std::string_view message) const {
    std::string out = file_;
    if (node.IsDefined() && !node.Mark().is_null()) {
      out += ":" + std::to_string(node.Mark().line + 1);
    }
    out += ": ";
    out += key;
    out += ": ";
    out += message;
    return Status::InvalidArgument(std::move(out));
  }

 private:
  std::string file_;
};

std::string Join(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return std::string(parent) + "." + std::string(key);
}

// Checks that `node` is a map whose keys are all in `allowed`.
Status CheckMap(const ErrorContext& ctx, const YAML::Node& node, std::string_view where,
                const std::set<std::string, std::less<>>& allowed) {
  if (!node.IsMap()) {
    return ctx.Error(node, where.empty() ? "(top level)" : where, "must be a map of keys");
  }
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) return ctx.Error(kv.first, where, "keys must be plain strings");
    const std::string key = kv.first.Scalar();
    if (!allowed.contains(key)) {
      return ctx.Error(kv.first, Join(where, key), "unknown key '" + key + "'");
    }
  }
  return Status::Ok();
}

Result<std::string> GetString(const ErrorContext& ctx, const YAML::Node& node,
                              std::string_view key) {
  if (!node.IsScalar()) return ctx.Error(node, key, "must be a string");
  return node.Scalar();
}

Result<Duration> GetDuration(const ErrorContext& ctx, const YAML::Node& node,
                             std::string_view key) {
  if (!node.IsScalar()) return ctx.Error(node, key, "must be a duration like 5s or 250ms");
  auto d = ParseDuration(node.Scalar());
  if (!d.ok()) return ctx.Error(node, key, d.status().message());
  if (d->count() <= 0) return ctx.Error(node, key, "must be longer than zero");
  // Far past any sane interval, and short enough that the agent's arithmetic
  // on it (the lease is three heartbeats) cannot overflow.
  if (*d > std::chrono::hours(24 * 365)) return ctx.Error(node, key, "must be at most 365d");
  return *d;
}

Result<int> GetPort(const ErrorContext& ctx, const YAML::Node& node, std::string_view key) {
  const std::string bad = "must be a port number between 1 and 65535";
  if (!node.IsScalar()) return ctx.Error(node, key, bad);
  const std::string& s = node.Scalar();
  if (s.empty() || s.size() > 5) return ctx.Error(node, key, bad);
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return ctx.Error(node, key, bad);
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v > 65535) return ctx.Error(node, key, bad);
  return v;
}

std::string MachineHostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

// Lower-cases and replaces what the name rule forbids, so that
// <hostname>-<port> is a valid instance name on any machine.
std::string NameFromHostname(std::string_view host) {
  std::string out;
  for (char c : host) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool ok =
        (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '.' || l == '-' || l == '_';
    out.push_back(ok ? l : '-');
  }
  while (!out.empty() && !std::isalnum(static_cast<unsigned char>(out.front()))) out.erase(0, 1);
  if (out.empty()) out = "host";
  if (out.size() > 56) out.resize(56);
  return out;
}

Status CheckControlPlane(const ErrorContext& ctx, const YAML::Node& node, std::string* url) {
  auto s = GetString(ctx, node, "control_plane");
  if (!s.ok()) return s.status();
  std::string_view v = *s;
  while (!v.empty() && v.back() == '/') v.remove_suffix(1);
  const std::string_view scheme = v.starts_with("https://") ? "https://" : "http://";
  if (!v.starts_with(scheme) || v.size() == scheme.size()) {
    return ctx.Error(node, "control_plane",
                     "must look like http://host:port or https://host:port, got '" + *s + "'");
  }
  if (v.substr(scheme.size()).find('/') != std::string_view::npos) {
    return ctx.Error(node, "control_plane", "must not have a path, got '" + *s + "'");
  }
  *url = std::string(v);
  return Status::Ok();
}

Status ParseHealth(const ErrorContext& ctx, const YAML::Node& node, HealthConfig* out) {
  HIVE_RETURN_IF_ERROR(
      CheckMap(ctx, node, "health", {"http", "tcp", "exec", "interval", "timeout"}));
  int kinds = 0;
  if (node["http"]) {
    ++kinds;
    auto s = GetString(ctx, node["http"], "health.http");
    if (!s.ok()) return s.status();
    if (!s->starts_with("http://")) {
      return ctx.Error(node["http"], "health.http", "must be an http:// URL, got '" + *s + "'");
    }
    out->kind = HealthKind::kHttp;
    out->http_url = *s;
  }
  if (node["tcp"]) {
    ++kinds;
    auto s = GetString(ctx, node["tcp"], "health.tcp");
    if (!s.ok()) return s.status();
    std::string host;
    int port = 0;
    if (!ParseHostPort(*s, &host, &port).ok()) {
      return ctx.Error(node["tcp"], "health.tcp", "must be host:port, got '" + *s + "'");
    }
    out->kind = HealthKind::kTcp;
    out->tcp_address = *s;
  }
  if (const YAML::Node exec = node["exec"]) {
    ++kinds;
    out->kind = HealthKind::kExec;
    if (exec.IsScalar()) {
      if (exec.Scalar().empty()) return ctx.Error(exec, "health.exec", "must not be empty");
      out->exec_argv = {"/bin/sh", "-c", exec.Scalar()};
    } else if (exec.IsSequence() && exec.size() > 0) {
      for (const auto& arg : exec) {
        if (!arg.IsScalar()) return ctx.Error(arg, "health.exec", "arguments must be strings");
        out->exec_argv.push_back(arg.Scalar());
      }
    } else {
      return ctx.Error(exec, "health.exec", "must be a command string or a list of arguments");
    }
  }
  if (kinds != 1) {
    return ctx.Error(node, "health", "needs exactly one of http, tcp or exec");
  }
  if (node["interval"]) {
    auto d = GetDuration(ctx, node["interval"], "health.interval");
    if (!d.ok()) return d.status();
    out->interval = *d;
  }
  if (node["timeout"]) {
    auto d = GetDuration(ctx, node["timeout"], "health.timeout");
    if (!d.ok()) return d.status();
    out->timeout = *d;
  }
  return Status::Ok();
}

Result<uint64_t> GetByteSize(const ErrorContext& ctx, const YAML::Node& node,
                             std::string_view key) {
  if (!node.IsScalar()) return ctx.Error(node, key, "must be a size like 256KiB or 64MiB");
  auto v = ParseByteSize(node.Scalar());
  if (!v.ok()) return ctx.Error(node, key, v.status().message());
  if (*v == 0) return ctx.Error(node, key, "must be larger than zero");
  return *v;
}

Status CheckHttpUrl(const ErrorContext& ctx, const YAML::Node& node, const std::string& key,
                    std::string* out) {
  auto s = GetString(ctx, node, key);
  if (!s.ok()) return s.status();
  if (!s->starts_with("http://") || s->size() == 7) {
    return ctx.Error(node, key, "must be an http:// URL, got '" + *s + "'");
  }
  *out = *s;
  return Status::Ok();
}

// A file holding one token (whitespace trimmed), so that no token is in the YAML.
Status ReadToken(const ErrorContext& ctx, const YAML::Node& node, const std::string& key,
                 std::string* token) {
  auto path = GetString(ctx, node, key);
  if (!path.ok()) return path.status();
  std::ifstream in(*path, std::ios::binary);
  if (!in) {
    return ctx.Error(node, key,
                     "cannot read '" + *path + "': " + std::string(std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  *token = std::string(Trim(text));
  if (token->empty()) return ctx.Error(node, key, "'" + *path + "' is empty");
  return Status::Ok();
}

// intake: / admin: — `listen` (host:port, or a bare port for 127.0.0.1:port,
// so that only a deliberate address is reachable from outside) and an
// optional `token_file` callers must present.
Status ParseListener(const ErrorContext& ctx, const YAML::Node& node, const std::string& where,
                     ListenerConfig* out) {
  HIVE_RETURN_IF_ERROR(CheckMap(ctx, node, where, {"listen", "token_file"}));
  if (!node["listen"]) return ctx.Error(node, where + ".listen", "is required");
  auto s = GetString(ctx, node["listen"], where + ".listen");
  if (!s.ok()) return s.status();
  const bool bare_port =
      !s->empty() && s->size() <= 5 && s->find_first_not_of("0123456789") == std::string::npos;
  const std::string address = bare_port ? "127.0.0.1:" + *s : *s;
  std::string host;
  int port = 0;
  if (!ParseHostPort(address, &host, &port).ok() || port < 0 || port > 65535) {
    return ctx.Error(node["listen"], where + ".listen",
                     "must be host:port or a port, got '" + *s + "'");
  }
  out->listen = address;
  if (node["token_file"]) {
    HIVE_RETURN_IF_ERROR(ReadToken(ctx, node["token_file"], where + ".token_file", &out->token));
  }
  return Status::Ok();
}

// format, pattern, multiline_start, multiline_timeout of a log source or of
// the child's output.
Status ParseLineFormat(const ErrorContext& ctx, const YAML::Node& item, const std::string& where,
                       LineFormatConfig* out) {
  if (item["format"]) {
    auto f = GetString(ctx, item["format"], where + ".format");
    if (!f.ok()) return f.status();
    if (*f == "json") {
      out->format = LogFormat::kJson;
    } else if (*f == "logfmt") {
      out->format = LogFormat::kLogfmt;
    } else if (*f == "regex") {
      out->format = LogFormat::kRegex;
    } else {
      return ctx.Error(item["format"], where + ".format",
                       "unknown format '" + *f + "' (json, logfmt or regex)");
    }
  }
  if (item["pattern"]) {
    if (out->format != LogFormat::kRegex) {
      return ctx.Error(item["pattern"], where + ".pattern", "needs format: regex");
    }
    auto p = GetString(ctx, item["pattern"], where + ".pattern");
    if (!p.ok()) return p.status();
    if (Status s = ValidateLinePattern(*p, /*needs_groups=*/true); !s.ok()) {
      return ctx.Error(item["pattern"], where + ".pattern", s.message());
    }
    out->pattern = *p;
  } else if (out->format == LogFormat::kRegex) {
    return ctx.Error(item, where + ".pattern", "is required with format: regex");
  }
  if (item["multiline_start"]) {
    auto p = GetString(ctx, item["multiline_start"], where + ".multiline_start");
    if (!p.ok()) return p.status();
    if (Status s = ValidateLinePattern(*p, /*needs_groups=*/false); !s.ok()) {
      return ctx.Error(item["multiline_start"], where + ".multiline_start", s.message());
    }
    out->multiline_start = *p;
  }
  if (item["multiline_timeout"]) {
    auto d = GetDuration(ctx, item["multiline_timeout"], where + ".multiline_timeout");
    if (!d.ok()) return d.status();
    out->multiline_timeout = *d;
  }
  return Status::Ok();
}

Status ParseLogs(const ErrorContext& ctx, const YAML::Node& node,
                 std::vector<LogSourceConfig>* out) {
  if (!node.IsSequence()) return ctx.Error(node, "logs", "must be a list of {path, format}");
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string where = "logs[" + std::to_string(i) + "]";
    HIVE_RETURN_IF_ERROR(CheckMap(
        ctx, item, where,
        {"path", "format", "pattern", "multiline_start", "multiline_timeout", "max_line_bytes"}));
    LogSourceConfig source;
    HIVE_RETURN_IF_ERROR(ParseLineFormat(ctx, item, where, &source.format));
    if (item["max_line_bytes"]) {
      auto v = GetByteSize(ctx, item["max_line_bytes"], where + ".max_line_bytes");
      if (!v.ok()) return v.status();
      source.max_line_bytes = static_cast<size_t>(*v);
    }
    if (!item["path"]) return ctx.Error(item, where + ".path", "is required");
    auto p = GetString(ctx, item["path"], where + ".path");
    if (!p.ok()) return p.status();
    if (p->empty()) return ctx.Error(item["path"], where + ".path", "must not be empty");
    source.path = *p;
    out->push_back(std::move(source));
  }
  return Status::Ok();
}

Status ParseOnChange(const ErrorContext& ctx, const YAML::Node& node, OnChangeConfig* out) {
  const std::string where = "config.on_change";
  HIVE_RETURN_IF_ERROR(
      CheckMap(ctx, node, where, {"signal", "pid", "pid_file", "command", "http", "timeout"}));
  int kinds = 0;
  if (node["signal"]) {
    ++kinds;
    auto s = GetString(ctx, node["signal"], where + ".signal");
    if (!s.ok()) return s.status();
    std::string name = *s;
    if (name.starts_with("SIG")) name = name.substr(3);
    static const std::pair<const char*, int> kSignals[] = {{"HUP", SIGHUP},   {"USR1", SIGUSR1},
                                                           {"USR2", SIGUSR2}, {"TERM", SIGTERM},
                                                           {"INT", SIGINT},   {"QUIT", SIGQUIT}};
    for (const auto& [n, v] : kSignals) {
      if (name == n) out->signal = v;
    }
    if (out->signal == 0) {
      return ctx.Error(node["signal"], where + ".signal",
                       "unknown signal '" + *s + "' (HUP, USR1, USR2, TERM, INT or QUIT)");
    }
    out->kind = OnChangeConfig::Kind::kSignal;
    if (node["pid"]) {
      const YAML::Node pid = node["pid"];
      int v = 0;
      const std::string text = pid.IsScalar() ? pid.Scalar() : "";
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v <= 0) {
        return ctx.Error(pid, where + ".pid", "must be a process id");
      }
      out->pid = v;
    }
    if (node["pid_file"]) {
      auto f = GetString(ctx, node["pid_file"], where + ".pid_file");
      if (!f.ok()) return f.status();
      out->pid_file = *f;
    }
  } else if (node["pid"] || node["pid_file"]) {
    return ctx.Error(node, where, "pid and pid_file go with signal");
  }
  if (const YAML::Node cmd = node["command"]) {
    ++kinds;
    out->kind = OnChangeConfig::Kind::kCommand;
    if (cmd.IsScalar() && !cmd.Scalar().empty()) {
      out->command = {"/bin/sh", "-c", cmd.Scalar()};
    } else if (cmd.IsSequence() && cmd.size() > 0) {
      for (const auto& arg : cmd) {
        if (!arg.IsScalar()) return ctx.Error(arg, where + ".command", "arguments must be strings");
        out->command.push_back(arg.Scalar());
      }
    } else {
      return ctx.Error(cmd, where + ".command", "must be a command string or a list of arguments");
    }
  }
  if (node["http"]) {
    ++kinds;
    out->kind = OnChangeConfig::Kind::kHttp;
    HIVE_RETURN_IF_ERROR(CheckHttpUrl(ctx, node["http"], where + ".http", &out->http_url));
  }
  if (kinds != 1) return ctx.Error(node, where, "needs exactly one of signal, command or http");
  if (node["timeout"]) {
    auto d = GetDuration(ctx, node["timeout"], where + ".timeout");
    if (!d.ok()) return d.status();
    out->timeout = *d;
  }
  return Status::Ok();
}

Status ParseExec(const ErrorContext& ctx, const YAML::Node& node, ExecConfig* out) {
  HIVE_RETURN_IF_ERROR(CheckMap(
      ctx, node, "exec",
      {"restart", "stop_timeout", "format", "pattern", "multiline_start", "multiline_timeout"}));
  if (node["restart"]) {
    auto r = GetString(ctx, node["restart"], "exec.restart");
    if (!r.ok()) return r.status();
    if (*r == "on-failure") {
      out->restart_on_failure = true;
    } else if (*r == "never") {
      out->restart_on_failure = false;
    } else {
      return ctx.Error(node["restart"], "exec.restart",
                       "must be on-failure or never, got '" + *r + "'");
    }
  }
  if (node["stop_timeout"]) {
    auto d = GetDuration(ctx, node["stop_timeout"], "exec.stop_timeout");
    if (!d.ok()) return d.status();
    out->stop_timeout = *d;
  }
  return ParseLineFormat(ctx, node, "exec", &out->output);
}

// Permission bits written in octal, "0640" or "640". Group or others
// writing a file the service trusts is refused.
Result<uint32_t> GetFileMode(const ErrorContext& ctx, const YAML::Node& node,
                             std::string_view key) {
  const std::string text = node.IsScalar() ? node.Scalar() : "";
  std::string_view digits = text;
  if (digits.size() == 4 && digits.front() == '0') digits.remove_prefix(1);
  uint32_t mode = 0;
  for (char c : digits) mode = mode * 8 + static_cast<uint32_t>(c - '0');
  if (digits.size() != 3 || digits.find_first_not_of("01234567") != std::string_view::npos) {
    return ctx.Error(node, key, "must be an octal file mode like \"0640\", got '" + text + "'");
  }
  if ((mode & 022) != 0) {
    return ctx.Error(node, key, "must not let group or others write the file, got '" + text + "'");
  }
  return mode;
}

Status ParseConfigSection(const ErrorContext& ctx, const YAML::Node& node,
                          std::optional<ConfigFileConfig>* out) {
  HIVE_RETURN_IF_ERROR(CheckMap(ctx, node, "config", {"profile", "file", "mode", "on_change"}));
  ConfigFileConfig c;
  if (node["mode"]) {
    auto mode = GetFileMode(ctx, node["mode"], "config.mode");
    if (!mode.ok()) return mode.status();
    c.mode = *mode;
  }
  if (node["on_change"]) HIVE_RETURN_IF_ERROR(ParseOnChange(ctx, node["on_change"], &c.on_change));
  if (!node["profile"]) return ctx.Error(node, "config.profile", "is required");
  auto profile = GetString(ctx, node["profile"], "config.profile");
  if (!profile.ok()) return profile.status();
  if (Status s = ValidateName(*profile, "profile"); !s.ok()) {
    return ctx.Error(node["profile"], "config.profile", s.message());
  }
  c.profile = *profile;
  if (!node["file"]) return ctx.Error(node, "config.file", "is required");
  auto file = GetString(ctx, node["file"], "config.file");
  if (!file.ok()) return file.status();
  auto format = ConfigFileFormatForPath(*file);
  if (!format.ok()) return ctx.Error(node["file"], "config.file", format.status().message());
  c.file = *file;
  c.format = *format;
  *out = std::move(c);
  return Status::Ok();
}

// A file the agent reads at start: it must be a readable regular file. Only
// checked here (no read), so a FIFO or a device cannot block the load.
Status CheckReadableFile(const ErrorContext& ctx, const YAML::Node& node, std::string_view key,
                         std::string* path) {
  auto p = GetString(ctx, node, key);
  if (!p.ok()) return p.status();
  if (p->empty()) return ctx.Error(node, key, "must not be empty");
  struct stat st;
  if (::stat(p->c_str(), &st) != 0 || ::access(p->c_str(), R_OK) != 0) {
    return ctx.Error(node, key, "cannot read '" + *p + "': " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return ctx.Error(node, key, "'" + *p + "' is not a regular file");
  *path = *p;
  return Status::Ok();
}

// ca_file, cert_file and key_file: TLS to an https:// control plane.
Status ParseTls(const ErrorContext& ctx, const YAML::Node& root, AgentConfig* c) {
  const bool https = c->control_plane.starts_with("https://");
  for (const char* key : {"ca_file", "cert_file", "key_file"}) {
    if (root[key] && !https) {
      return ctx.Error(root[key], key,
                       "needs an https:// control_plane, got '" + c->control_plane + "'");
    }
  }
  if (root["cert_file"].IsDefined() != root["key_file"].IsDefined()) {
    return ctx.Error(root["cert_file"] ? root["cert_file"] : root["key_file"],
                     root["cert_file"] ? "cert_file" : "key_file",
                     "cert_file and key_file go together (the client certificate and its key)");
  }
  if (root["ca_file"])
    HIVE_RETURN_IF_ERROR(CheckReadableFile(ctx, root["ca_file"], "ca_file", &c->ca_file));
  if (root["cert_file"]) {
    HIVE_RETURN_IF_ERROR(CheckReadableFile(ctx, root["cert_file"], "cert_file", &c->cert_file));
    HIVE_RETURN_IF_ERROR(CheckReadableFile(ctx, root["key_file"], "key_file", &c->key_file));
  }
  return Status::Ok();
}

Result<AgentConfig> Build(const YAML::Node& root, const ErrorContext& ctx,
                          std::string_view hostname) {
  HIVE_RETURN_IF_ERROR(
      CheckMap(ctx, root, "",
               {"service", "instance", "version", "address", "port", "control_plane", "token_file",
                "ca_file", "cert_file", "key_file", "heartbeat_interval", "health", "logs",
                "metrics", "config", "spool", "intake", "admin", "exec"}));
  AgentConfig c;
  for (const char* required : {"service", "port", "control_plane"}) {
    if (!root[required]) return ctx.Error(root, required, "is required");
  }
  auto service = GetString(ctx, root["service"], "service");
  if (!service.ok()) return service.status();
  if (Status s = ValidateName(*service, "service"); !s.ok()) {
    return ctx.Error(root["service"], "service", s.message());
  }
  c.service = *service;
  auto port = GetPort(ctx, root["port"], "port");
  if (!port.ok()) return port.status();
  c.port = *port;
  if (root["instance"]) {
    auto inst = GetString(ctx, root["instance"], "instance");
    if (!inst.ok()) return inst.status();
    if (Status s = ValidateName(*inst, "instance"); !s.ok()) {
      return ctx.Error(root["instance"], "instance", s.message());
    }
    c.instance = *inst;
  } else {
    c.instance = NameFromHostname(hostname.empty() ? MachineHostname() : std::string(hostname)) +
                 "-" + std::to_string(c.port);
  }
  if (root["version"]) {
    auto v = GetString(ctx, root["version"], "version");
    if (!v.ok()) return v.status();
    c.version = *v;
  }
  if (root["address"]) {
    auto a = GetString(ctx, root["address"], "address");
    if (!a.ok()) return a.status();
    if (a->empty()) return ctx.Error(root["address"], "address", "must not be empty");
    c.address = *a;
  }
  HIVE_RETURN_IF_ERROR(CheckControlPlane(ctx, root["control_plane"], &c.control_plane));
  HIVE_RETURN_IF_ERROR(ParseTls(ctx, root, &c));
  if (root["token_file"]) {
    HIVE_RETURN_IF_ERROR(ReadToken(ctx, root["token_file"], "token_file", &c.token));
  }
  if (root["heartbeat_interval"]) {
    auto d = GetDuration(ctx, root["heartbeat_interval"], "heartbeat_interval");
    if (!d.ok()) return d.status();
    c.heartbeat_interval = *d;
  }
  if (root["health"]) HIVE_RETURN_IF_ERROR(ParseHealth(ctx, root["health"], &c.health));
  if (root["logs"]) HIVE_RETURN_IF_ERROR(ParseLogs(ctx, root["logs"], &c.logs));
  if (root["config"]) HIVE_RETURN_IF_ERROR(ParseConfigSection(ctx, root["config"], &c.config));
  c.spool_dir = "/var/lib/hive-agent/" + c.instance;
  if (const YAML::Node spool = root["spool"]) {
    HIVE_RETURN_IF_ERROR(CheckMap(ctx, spool, "spool", {"dir", "max_bytes"}));
    if (spool["max_bytes"]) {
      auto v = GetByteSize(ctx, spool["max_bytes"], "spool.max_bytes");
      if (!v.ok()) return v.status();
      if (*v < (1u << 20))
        return ctx.Error(spool["max_bytes"], "spool.max_bytes", "must be at least 1MiB");
      c.spool_max_bytes = *v;
    }
    if (spool["dir"]) {
      auto d = GetString(ctx, spool["dir"], "spool.dir");
      if (!d.ok()) return d.status();
      if (d->empty()) return ctx.Error(spool["dir"], "spool.dir", "must not be empty");
      c.spool_dir = *d;
    }
  }
  if (const YAML::Node m = root["metrics"]) {
    HIVE_RETURN_IF_ERROR(CheckMap(ctx, m, "metrics", {"url", "interval"}));
    MetricsScrapeConfig mc;
    if (!m["url"]) return ctx.Error(m, "metrics.url", "is required");
    HIVE_RETURN_IF_ERROR(CheckHttpUrl(ctx, m["url"], "metrics.url", &mc.url));
    if (m["interval"]) {
      auto d = GetDuration(ctx, m["interval"], "metrics.interval");
      if (!d.ok()) return d.status();
      mc.interval = *d;
    }
    c.metrics = std::move(mc);
  }
  if (root["intake"]) HIVE_RETURN_IF_ERROR(ParseListener(ctx, root["intake"], "intake", &c.intake));
  if (root["admin"]) HIVE_RETURN_IF_ERROR(ParseListener(ctx, root["admin"], "admin", &c.admin));
  if (root["exec"]) HIVE_RETURN_IF_ERROR(ParseExec(ctx, root["exec"], &c.exec));
  return c;
}

}  // namespace

Result<ConfigFileFormat> ConfigFileFormatForPath(std::string_view path) {
  const size_t slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (name == ".env") return ConfigFileFormat::kEnv;
  const size_t dot = name.rfind('.');
  const std::string_view ext = dot == std::string_view::npos ? "" : name.substr(dot);
  if (ext == ".json") return ConfigFileFormat::kJson;
  if (ext == ".yaml" || ext == ".yml") return ConfigFileFormat::kYaml;
  if (ext == ".properties") return ConfigFileFormat::kProperties;
  if (ext == ".env") return ConfigFileFormat::kEnv;
  return Status::InvalidArgument("cannot tell the format of '" + std::string(path) +
                                 "': use a .json, .yaml, .yml, .properties or .env file");
}

Result<AgentConfig> ParseAgentConfig(std::string_view yaml_text, std::string_view file_name,
                                     std::string_view hostname) {
  ErrorContext ctx(file_name);
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    if (!root.IsDefined() || root.IsNull()) {
      return Status::InvalidArgument(std::string(file_name) + ": the file is empty");
    }
    return Build(root, ctx, hostname);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string(file_name) + ":" + std::to_string(e.mark.line + 1) +
                                   ": bad YAML: " + e.msg);
  }
}

Result<AgentConfig> LoadAgentConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument("cannot read config file '" + path +
                                   "': " + std::string(std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseAgentConfig(ss.str(), path);
}

}  // namespace hive::agent
