#include "hive/agent/log_shipper.h"

#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "backoff.h"
#include "control_plane.h"
#include "file_util.h"
#include "hive/agent/log_event.h"
#include "hive/agent/spool.h"
#include "hive/agent/tailer.h"
#include "hive/core/http_client.h"
#include "hive/core/log.h"
#include "hive/core/text.h"
#include "line_parser.h"

namespace hive::agent {
namespace {

using Steady = std::chrono::steady_clock;

constexpr Duration kMaxRetryAfter = std::chrono::minutes(5);

std::string RandomHex(size_t bytes) {
  std::random_device rd;
  std::string raw;
  for (size_t i = 0; i < bytes; ++i) raw.push_back(static_cast<char>(rd() & 0xFF));
  return HexEncode(raw);
}

// Retry-After as delta-seconds (what hived sends); nullopt when absent or
// in another form.
std::optional<Duration> RetryAfter(const HttpClientResponse& r) {
  auto v = r.HeaderValue("Retry-After");
  if (!v) return std::nullopt;
  const std::string_view t = Trim(*v);
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), seconds);
  if (ec != std::errc() || end != t.data() + t.size() || seconds < 0) return std::nullopt;
  return std::min<Duration>(std::chrono::seconds(seconds), kMaxRetryAfter);
}

struct Batch {
  std::string body;
  uint64_t lines = 0;
  Steady::time_point started;
  void Clear() {
    body.clear();
    lines = 0;
  }
};

// One `logs:` source.
struct Source {
  std::unique_ptr<LogTailer> tailer;
  std::unique_ptr<LineParser> parser;
  std::unique_ptr<MultilineJoiner> joiner;  // null: one line is one event
};

constexpr ExtraAttr kTruncated{"truncated", "true"};
constexpr ExtraAttr kStdout{"stream", "\"stdout\""};
constexpr ExtraAttr kStderr{"stream", "\"stderr\""};

}  // namespace

struct LogShipper::Loop {
  Loop(const AgentConfig& c, const AgentOptions& o)
      : positions(c.spool_dir + "/positions.json"),
        output_parser(c.exec.output),
        mapper(c.service, c.instance),
        backoff(o.retry_initial, o.retry_max),
        dead_letter_path(c.spool_dir + "/dead-letter.ndjson") {}

  std::unique_ptr<HttpClient> client;
  PositionStore positions;
  std::vector<Source> sources;
  LineParser output_parser;
  std::unique_ptr<MultilineJoiner> output_joiners[2];  // stdout, stderr
  LogLineMapper mapper;
  Backoff backoff;
  LogThrottle retry_log, save_log, full_log, drop_log;
  std::string dead_letter_path;
  uint64_t next_seq = 1;
  std::string scratch;
  std::string parse_error_json;  // a parser's parse_error as a JSON string

  Batch files;              // lines of log files
  Batch output;             // lines of the child's output
  bool spool_full = false;  // the files batch waits for room: tailing pauses
  Steady::time_point retry_at{};
  uint64_t oldest_seq = 0;  // the spool's oldest record, for the lag gauge
  Steady::time_point oldest_since{};
};

LogShipper::LogShipper(AgentConfig config, AgentOptions options, AgentMetrics& metrics)
    : config_(std::move(config)), options_(options), metrics_(metrics) {}

LogShipper::~LogShipper() { Stop(); }

Status LogShipper::Start() {
  // Spooled lines, positions and dead letters are the service's logs: owner only.
  HIVE_RETURN_IF_ERROR(MakeDirs(config_.spool_dir, 0700));
  spool_ = std::make_unique<Spool>(config_.spool_dir + "/spool", config_.spool_max_bytes);
  HIVE_RETURN_IF_ERROR(spool_->Open());
  metrics_.AddSpoolCorrupt(spool_->corrupt_records());
  metrics_.SetSpool(spool_->bytes(), spool_->records());
  auto loop = std::make_unique<Loop>(config_, options_);
  HttpClientOptions http = ControlPlaneClientOptions(config_, options_);
  http.gzip_requests = true;
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
  // Lines up to the newest spooled batch are stored already: resume after it.
  for (const auto& p : spool_->recovered_positions()) {
    std::erase_if(saved, [&](const FilePosition& s) { return s.dev == p.dev && s.ino == p.ino; });
    saved.push_back(p);
  }
  for (const auto& source : config_.logs) {
    Source s;
    s.tailer = std::make_unique<LogTailer>(std::vector<std::string>{source.path}, saved,
                                           options_.rotate_wait, source.max_line_bytes);
    s.parser = std::make_unique<LineParser>(source.format);
    if (!source.format.multiline_start.empty()) {
      s.joiner = std::make_unique<MultilineJoiner>(
          source.format.multiline_start, source.format.multiline_timeout, source.max_line_bytes);
    }
    loop->sources.push_back(std::move(s));
  }
  if (!config_.exec.output.multiline_start.empty()) {
    for (auto& j : loop->output_joiners) {
      j = std::make_unique<MultilineJoiner>(config_.exec.output.multiline_start,
                                            config_.exec.output.multiline_timeout,
                                            LogTailer::kDefaultMaxLine);
    }
  }
  loop_ = std::move(loop);
  id_prefix_ = config_.instance + "-" + RandomHex(8);
  {
    std::lock_guard lock(mu_);
    running_ = true;
  }
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
  {
    std::lock_guard lock(mu_);
    running_ = false;
  }
  loop_.reset();  // closes the files and the connection
}

void LogShipper::AddOutputLine(bool is_stderr, std::string_view line, bool truncated) {
  uint64_t dropped = 0;
  {
    std::lock_guard lock(mu_);
    output_bytes_ += line.size();
    output_.push_back({is_stderr, truncated, std::string(line)});
    while (output_bytes_ > options_.stream_buffer_bytes && output_.size() > 1) {
      output_bytes_ -= output_.front().text.size();
      output_.pop_front();
      ++dropped;
    }
    wake_ = true;
  }
  if (dropped > 0) metrics_.AddLinesDropped(dropped);
  cv_.notify_all();
}

Status LogShipper::AppendEvents(std::string ndjson, uint64_t lines) {
  SpoolRecord record;
  {
    std::lock_guard lock(mu_);
    if (!running_ || stopping_) return Status::FailedPrecondition("the agent is shutting down");
    record.batch_id = id_prefix_ + "-i" + std::to_string(next_intake_seq_++);
  }
  record.lines = lines;
  record.body = std::move(ndjson);
  HIVE_RETURN_IF_ERROR(spool_->Append(record));
  metrics_.AddIntakeLines(lines);
  metrics_.SetSpool(spool_->bytes(), spool_->records());
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
  return Status::Ok();
}

void LogShipper::Run() {
  Loop& L = *loop_;
  const auto poll = std::chrono::duration_cast<Steady::duration>(options_.poll_interval);
  const auto linger = std::chrono::duration_cast<Steady::duration>(options_.batch_linger);
  Steady::time_point last_scan{};

  // A line its parser could not read is shipped raw with attrs.parse_error.
  auto add_event = [&](Batch& batch, std::string_view text, LineParser& parser, bool truncated,
                       const ExtraAttr* stream) {
    if (batch.lines == 0) batch.started = Steady::now();
    const MappableLine mappable = parser.ToMappable(text, L.scratch);
    ExtraAttr extra[3];
    size_t n = 0;
    if (truncated) {
      extra[n++] = kTruncated;
      metrics_.AddLinesTruncated(1);
    }
    if (stream != nullptr) extra[n++] = *stream;
    if (!mappable.parse_error.empty()) {
      L.parse_error_json = JsonString(mappable.parse_error);
      extra[n++] = {"parse_error", L.parse_error_json};
    }
    const std::string_view mapper_error = L.mapper.AppendEvent(
        mappable.text, Clock::System().Now(), batch.body, std::span<const ExtraAttr>(extra, n));
    if (!mappable.parse_error.empty() || !mapper_error.empty()) metrics_.AddLinesUnparsed(1);
    ++batch.lines;
  };

  auto positions_now = [&] {
    std::vector<FilePosition> out;
    for (auto& s : L.sources) {
      std::vector<std::pair<uint64_t, uint64_t>> holds;
      if (s.joiner && s.joiner->pending()) {
        holds.emplace_back(s.joiner->pending_key().file_id, s.joiner->pending_key().start);
      }
      for (auto& p : s.tailer->Positions(holds)) out.push_back(std::move(p));
    }
    return out;
  };

  auto update_spool_metrics = [&] { metrics_.SetSpool(spool_->bytes(), spool_->records()); };

  // Stores the files batch; false (batch kept) when the spool has no room.
  auto seal_files = [&] {
    SpoolRecord r;
    r.batch_id = id_prefix_ + "-" + std::to_string(L.next_seq);
    r.from_files = true;
    r.lines = L.files.lines;
    r.positions = positions_now();
    r.body = std::move(L.files.body);
    const Status s = spool_->Append(r);
    if (!s.ok()) {
      L.files.body = std::move(r.body);
      if (!L.spool_full && L.full_log.Allow()) {
        log::Warn("spool full or unwritable; file tailing paused until batches are shipped",
                  {{"error", s.ToString()}, {"spool_bytes", spool_->bytes()}});
      }
      L.spool_full = true;
      return false;
    }
    ++L.next_seq;
    L.spool_full = false;
    L.files.Clear();
    update_spool_metrics();
    return true;
  };

  // Stores the output batch, making room by dropping the oldest output
  // batches; drops this one when even that is not enough.
  auto seal_output = [&] {
    SpoolRecord r;
    r.batch_id = id_prefix_ + "-o" + std::to_string(L.next_seq);
    r.lines = L.output.lines;
    r.body = std::move(L.output.body);
    Status s = spool_->Append(r);
    if (s.code() == StatusCode::kResourceExhausted) {
      const uint64_t dropped = spool_->DropOldestStreamRecords(r.body.size() + 512);
      metrics_.AddLinesDropped(dropped);
      if (dropped > 0 && L.drop_log.Allow()) {
        log::Warn("spool full: dropped the oldest lines of the child's output",
                  {{"lines", dropped}, {"suppressed", L.drop_log.TakeSuppressed()}});
      }
      s = spool_->Append(r);
    }
    if (!s.ok()) {
      metrics_.AddLinesDropped(r.lines);
      if (L.drop_log.Allow()) {
        log::Warn("cannot spool the child's output; dropped it",
                  {{"lines", r.lines}, {"error", s.ToString()}});
      }
    } else {
      ++L.next_seq;
    }
    L.output.Clear();
    update_spool_metrics();
  };

  auto dead_letter = [&](std::string_view body, uint64_t lines, const std::string& why) {
    if (Status s = AppendFileDurably(L.dead_letter_path, body); !s.ok()) {
      log::Error("cannot write the dead-letter file", {{"error", s.ToString()}});
      return false;
    }
    metrics_.AddLinesDeadLettered(lines);
    log::Error("collector refused log lines; wrote them to the dead-letter file",
               {{"lines", lines}, {"error", why}, {"file", L.dead_letter_path}});
    return true;
  };

  // Acknowledged (or dead-lettered): forget the record.
  auto commit = [&](const SpoolRecord& r) {
    if (r.from_files) {
      if (Status s = L.positions.Save(r.positions); !s.ok() && L.save_log.Allow()) {
        log::Error("cannot save log positions", {{"error", s.ToString()}});
      }
    }
    if (Status s = spool_->Remove(r.seq); !s.ok()) {
      log::Error("cannot remove a shipped spool record", {{"error", s.ToString()}});
    }
    L.backoff.Reset();
    update_spool_metrics();
  };

  // Sends the oldest spooled batch once; true when it left the spool.
  auto ship_one = [&] {
    auto rec = spool_->Oldest();
    if (!rec) {
      metrics_.SetShipLagSeconds(0);
      return false;
    }
    const auto now = Steady::now();
    if (rec->seq != L.oldest_seq) {
      L.oldest_seq = rec->seq;
      L.oldest_since = now;
    }
    metrics_.SetShipLagSeconds(std::chrono::duration<double>(now - L.oldest_since).count());
    const std::vector<Header> headers = {{"X-Hive-Batch-Id", rec->batch_id}};
    auto r =
        L.client->Send("POST", "/api/v1/ingest/logs", rec->body, "application/x-ndjson", headers);
    if (r.ok() && r->ok()) {
      uint64_t accepted = rec->lines, rejected = 0;
      auto j = nlohmann::json::parse(r->body, nullptr, false);
      if (j.is_object()) {
        accepted = j.value("accepted", rec->lines);
        rejected = j.value("rejected", static_cast<uint64_t>(0));
        if (rejected > 0 && j.contains("errors") && j["errors"].is_array()) {
          // "line" counts the non-empty lines of the body from 1.
          std::vector<std::string_view> lines;
          for (auto l : Split(rec->body, '\n')) {
            if (!l.empty()) lines.push_back(l);
          }
          std::string bad;
          std::string first;
          uint64_t n = 0;
          for (const auto& e : j["errors"]) {
            if (!e.is_object()) continue;
            const int64_t line = e.value("line", static_cast<int64_t>(0));
            if (first.empty()) first = e.value("message", "");
            if (line < 1 || static_cast<size_t>(line) > lines.size()) continue;
            bad.append(lines[static_cast<size_t>(line - 1)]).push_back('\n');
            ++n;
          }
          if (n > 0) dead_letter(bad, n, first);
        }
      }
      metrics_.AddLinesShipped(accepted);
      metrics_.AddLinesRejected(rejected);
      commit(*rec);
      return true;
    }
    if (r.ok() && (r->status == 400 || r->status == 413)) {
      if (dead_letter(rec->body, rec->lines, StatusFromResponse(*r).ToString())) {
        metrics_.AddBatchDeadLettered();
        commit(*rec);
        return true;
      }
    }
    const std::string error = r.ok() ? StatusFromResponse(*r).ToString() : r.status().ToString();
    metrics_.AddShipRetry();
    Duration pause = L.backoff.Next();
    if (r.ok() && (r->status == 429 || r->status == 503)) {
      if (auto after = RetryAfter(*r)) pause = std::max(pause, *after);
    }
    if (L.retry_log.Allow()) {
      log::Warn("cannot ship logs; retrying", {{"error", error},
                                               {"batch_id", rec->batch_id},
                                               {"retry_in", FormatDuration(pause)},
                                               {"spool_bytes", spool_->bytes()},
                                               {"suppressed", L.retry_log.TakeSuppressed()}});
    }
    L.retry_at = Steady::now() + std::chrono::duration_cast<Steady::duration>(pause);
    return false;
  };

  auto emit_file = [&](Source& s) {
    return [&](std::string_view event, const LineKey& key) {
      add_event(L.files, event, *s.parser, key.truncated, nullptr);
    };
  };

  auto flush_joiners = [&](Steady::time_point now, bool all) {
    for (auto& s : L.sources) {
      if (!s.joiner) continue;
      if (all) {
        s.joiner->Flush(emit_file(s));
      } else {
        s.joiner->FlushIfDue(now, emit_file(s));
      }
    }
    for (int i = 0; i < 2; ++i) {
      auto& j = L.output_joiners[i];
      if (!j) continue;
      auto emit = [&, i](std::string_view event, const LineKey& key) {
        add_event(L.output, event, L.output_parser, key.truncated, i == 0 ? &kStdout : &kStderr);
      };
      if (all) {
        j->Flush(emit);
      } else {
        j->FlushIfDue(now, emit);
      }
    }
  };

  // Moves queued output lines into the output batch.
  auto take_output = [&] {
    std::deque<OutputLine> lines;
    {
      std::lock_guard lock(mu_);
      lines.swap(output_);
      output_bytes_ = 0;
    }
    for (auto& line : lines) {
      const int i = line.is_stderr ? 1 : 0;
      const ExtraAttr* stream = line.is_stderr ? &kStderr : &kStdout;
      if (auto& j = L.output_joiners[i]) {
        j->Add(line.text, LineKey{0, 0, line.truncated},
               [&](std::string_view event, const LineKey& key) {
                 add_event(L.output, event, L.output_parser, key.truncated, stream);
               });
      } else if (!Trim(line.text).empty()) {
        add_event(L.output, line.text, L.output_parser, line.truncated, stream);
      }
    }
    metrics_.AddLinesRead(lines.size());
  };

  auto full = [&](const Batch& b) {
    return b.lines >= options_.max_batch_lines || b.body.size() >= options_.max_batch_bytes;
  };

  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
      wake_ = false;
    }
    auto now = Steady::now();
    if (now - last_scan >= poll) {
      for (auto& s : L.sources) {
        s.tailer->Scan();
        s.tailer->DropFinished();  // what was read of them is in the batch or the spool
      }
      last_scan = now;
    }
    bool more_to_read = false;
    if (L.spool_full && spool_->HasRoom(L.files.body.size())) seal_files();
    if (!L.spool_full) {
      for (auto& s : L.sources) {
        if (full(L.files)) {
          more_to_read = true;
          break;
        }
        const size_t room_lines = options_.max_batch_lines - L.files.lines;
        const size_t room_bytes = options_.max_batch_bytes - L.files.body.size();
        size_t handed = 0;
        s.tailer->ReadTailedLines(room_lines, room_bytes, [&](const TailedLine& line) {
          ++handed;
          if (s.joiner) {
            s.joiner->Add(line.text, LineKey{line.file_id, line.start, line.truncated},
                          emit_file(s));
          } else if (!Trim(line.text).empty()) {
            add_event(L.files, line.text, *s.parser, line.truncated, nullptr);
          }
        });
        metrics_.AddLinesRead(handed);
        if (handed >= room_lines) more_to_read = true;
      }
      // Stopped by the batch limits: there is more right after sealing.
      if (full(L.files)) more_to_read = true;
    }
    take_output();
    now = Steady::now();
    flush_joiners(now, false);
    if (!L.spool_full && L.files.lines > 0 && (full(L.files) || now - L.files.started >= linger)) {
      seal_files();
    }
    if (L.output.lines > 0 && (full(L.output) || now - L.output.started >= linger)) {
      seal_output();
    }
    bool shipped = false;
    if (spool_->records() > 0 && Steady::now() >= L.retry_at) shipped = ship_one();
    if ((more_to_read && !L.spool_full) || (shipped && spool_->records() > 0)) continue;

    auto until = last_scan + poll;
    if (L.files.lines > 0) until = std::min(until, L.files.started + linger);
    if (L.output.lines > 0) until = std::min(until, L.output.started + linger);
    if (spool_->records() > 0) until = std::min(until, std::max(L.retry_at, Steady::now()));
    for (auto& s : L.sources) {
      if (s.joiner && s.joiner->pending()) until = std::min(until, s.joiner->due());
    }
    for (auto& j : L.output_joiners) {
      if (j && j->pending()) until = std::min(until, j->due());
    }
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, until, [&] { return stopping_ || wake_; });
  }

  // Shutdown: store what was read, then ship from the spool until the
  // deadline; what is left goes out after the next start.
  take_output();
  flush_joiners(Steady::now(), true);
  if (L.files.lines > 0) seal_files();
  if (L.output.lines > 0) seal_output();
  Steady::time_point deadline;
  {
    std::lock_guard lock(mu_);
    deadline = drain_deadline_;
  }
  while (spool_->records() > 0 && Steady::now() < deadline) {
    if (Steady::now() < L.retry_at) {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, std::min(L.retry_at, deadline), [] { return false; });
      continue;
    }
    ship_one();
  }
  if (spool_->records() > 0) {
    log::Warn("shutting down with batches in the spool; they are sent after the next start",
              {{"records", spool_->records()}, {"bytes", spool_->bytes()}});
  }
}

}  // namespace hive::agent
