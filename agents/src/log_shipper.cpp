#include "hive/agent/log_shipper.h"

#include <nlohmann/json.hpp>
#include <random>

#include "backoff.h"
#include "file_util.h"
#include "hive/agent/log_event.h"
#include "hive/agent/tailer.h"
#include "hive/core/http_client.h"
#include "hive/core/log.h"
#include "hive/core/text.h"

namespace hive::agent {
namespace {

using Steady = std::chrono::steady_clock;

std::string RandomHex(size_t bytes) {
  std::random_device rd;
  std::string raw;
  for (size_t i = 0; i < bytes; ++i) raw.push_back(static_cast<char>(rd() & 0xFF));
  return HexEncode(raw);
}

}  // namespace

struct LogShipper::Loop {
  Loop(const AgentConfig& c, const AgentOptions& o)
      : positions(c.spool_dir + "/positions.json"),
        mapper(c.service, c.instance),
        backoff(o.retry_initial, o.retry_max),
        dead_letter_path(c.spool_dir + "/dead-letter.ndjson"),
        id_prefix(c.instance + "-" + RandomHex(8)) {}

  std::unique_ptr<HttpClient> client;
  PositionStore positions;
  std::unique_ptr<LogTailer> tailer;
  LogLineMapper mapper;
  Backoff backoff;
  LogThrottle retry_log;
  LogThrottle save_log;
  std::string dead_letter_path;
  std::string id_prefix;
  uint64_t next_seq = 1;

  // The batch being filled or shipped.
  std::string body;
  size_t lines = 0;
  std::string batch_id;
  Steady::time_point started;

  void ResetBatch() {
    body.clear();
    lines = 0;
    batch_id.clear();
  }
};

LogShipper::LogShipper(AgentConfig config, AgentOptions options, AgentMetrics& metrics)
    : config_(std::move(config)), options_(options), metrics_(metrics) {}

LogShipper::~LogShipper() { Stop(); }

Status LogShipper::Start() {
  HIVE_RETURN_IF_ERROR(MakeDirs(config_.spool_dir));
  auto loop = std::make_unique<Loop>(config_, options_);
  HttpClientOptions http;
  http.base_url = config_.control_plane;
  http.bearer_token = config_.token;
  http.gzip_requests = true;
  http.connect_timeout = std::min<Duration>(options_.request_timeout, std::chrono::seconds(3));
  http.read_timeout = options_.request_timeout;
  http.write_timeout = options_.request_timeout;
  auto client = HttpClient::Create(http);
  if (!client.ok()) return client.status();
  loop->client = std::move(*client);
  std::vector<FilePosition> saved;
  if (auto p = loop->positions.Load(); p.ok()) {
    saved = std::move(*p);
  } else {
    log::Error("cannot use saved log positions; reading every file from its start",
               {{"error", p.status().ToString()}});
  }
  std::vector<std::string> patterns;
  for (const auto& source : config_.logs) patterns.push_back(source.path);
  loop->tailer =
      std::make_unique<LogTailer>(std::move(patterns), std::move(saved), options_.rotate_wait);
  loop_ = std::move(loop);
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void LogShipper::Stop() {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      drain_deadline_ = Steady::now() + options_.drain_timeout;
    }
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  loop_.reset();  // closes the files and the connection
}

void LogShipper::Run() {
  Loop& L = *loop_;
  const auto poll = std::chrono::duration_cast<Steady::duration>(options_.poll_interval);
  const auto linger = std::chrono::duration_cast<Steady::duration>(options_.batch_linger);
  Steady::time_point last_scan{};

  // Saves positions after an acknowledgement (or a dead-letter write).
  auto commit = [&] {
    L.tailer->DropFinished();
    if (Status s = L.positions.Save(L.tailer->Positions()); !s.ok() && L.save_log.Allow()) {
      log::Error("cannot save log positions", {{"error", s.ToString()}});
    }
  };

  // Sends the batch until it is acknowledged or dead-lettered; returns
  // early, leaving positions unsaved, only when stopping past the deadline.
  auto ship = [&] {
    const std::vector<Header> headers = {{"X-Hive-Batch-Id", L.batch_id}};
    while (true) {
      auto r =
          L.client->Send("POST", "/api/v1/ingest/logs", L.body, "application/x-ndjson", headers);
      std::string error;
      if (r.ok() && r->ok()) {
        uint64_t accepted = L.lines, rejected = 0;
        auto j = nlohmann::json::parse(r->body, nullptr, false);
        if (j.is_object()) {
          accepted = j.value("accepted", static_cast<uint64_t>(L.lines));
          rejected = j.value("rejected", static_cast<uint64_t>(0));
          if (rejected > 0) {
            std::string first;
            if (j.contains("errors") && j["errors"].is_array() && !j["errors"].empty() &&
                j["errors"][0].is_object()) {
              first = j["errors"][0].value("message", "");
            }
            log::Warn("collector rejected log lines",
                      {{"rejected", rejected}, {"batch_id", L.batch_id}, {"first_error", first}});
          }
        }
        metrics_.AddLinesShipped(accepted);
        metrics_.AddLinesRejected(rejected);
        L.backoff.Reset();
        commit();
        L.ResetBatch();
        return;
      }
      if (r.ok() && (r->status == 400 || r->status == 413)) {
        const Status why = StatusFromResponse(*r);
        if (Status s = AppendFileDurably(L.dead_letter_path, L.body); s.ok()) {
          log::Error("collector refused a whole batch; wrote it to the dead-letter file",
                     {{"batch_id", L.batch_id},
                      {"lines", L.lines},
                      {"error", why.ToString()},
                      {"file", L.dead_letter_path}});
          metrics_.AddBatchDeadLettered();
          commit();
          L.ResetBatch();
          return;
        } else {
          error = "refused batch could not be dead-lettered: " + s.ToString();
        }
      } else {
        error = r.ok() ? StatusFromResponse(*r).ToString() : r.status().ToString();
      }
      metrics_.AddShipRetry();
      if (L.retry_log.Allow()) {
        log::Warn("cannot ship logs; retrying", {{"error", error},
                                                 {"batch_id", L.batch_id},
                                                 {"suppressed", L.retry_log.TakeSuppressed()}});
      }
      auto until = Steady::now() + std::chrono::duration_cast<Steady::duration>(L.backoff.Next());
      std::unique_lock lock(mu_);
      const bool was_stopping = stopping_;
      if (stopping_) {
        if (Steady::now() >= drain_deadline_) {
          log::Warn("gave up shipping at shutdown; the lines will be sent again after restart",
                    {{"lines", L.lines}, {"batch_id", L.batch_id}});
          L.ResetBatch();
          return;
        }
        until = std::min(until, drain_deadline_);
      }
      cv_.wait_until(lock, until, [&] { return stopping_ != was_stopping; });
    }
  };

  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    auto now = Steady::now();
    if (now - last_scan >= poll) {
      L.tailer->Scan();
      if (L.lines == 0) L.tailer->DropFinished();
      last_scan = now;
    }
    size_t added = 0;
    bool drained = true;  // nothing more to read right now
    if (L.lines < options_.max_batch_lines && L.body.size() < options_.max_batch_bytes) {
      const size_t room_lines = options_.max_batch_lines - L.lines;
      const size_t room_bytes = options_.max_batch_bytes - L.body.size();
      const TimePoint read_time = Clock::System().Now();
      const size_t n = L.tailer->ReadLines(room_lines, room_bytes, [&](std::string_view line) {
        if (Trim(line).empty()) return;
        if (L.lines == 0) {
          L.started = Steady::now();
          L.batch_id = L.id_prefix + "-" + std::to_string(L.next_seq++);
        }
        L.mapper.AppendEvent(line, read_time, L.body);
        ++L.lines;
        ++added;
      });
      metrics_.AddLinesRead(added);
      drained = n < room_lines;
    }
    now = Steady::now();
    const bool full =
        L.lines >= options_.max_batch_lines || L.body.size() >= options_.max_batch_bytes;
    if (L.lines > 0 && (full || now - L.started >= linger)) {
      ship();
      continue;
    }
    if (!drained) continue;
    auto until = last_scan + poll;
    if (L.lines > 0) until = std::min(until, L.started + linger);
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, until, [&] { return stopping_; });
  }
  if (L.lines > 0) ship();
}

}  // namespace hive::agent
