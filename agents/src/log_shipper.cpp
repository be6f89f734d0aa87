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

// Reading, joining and sealing batches: the state of the reader thread.
struct LogShipper::Reader {
  Reader(LogShipper& s, const AgentConfig& c, const AgentOptions& o)
      : shipper(s),
        poll(std::chrono::duration_cast<Steady::duration>(o.poll_interval)),
        linger(std::chrono::duration_cast<Steady::duration>(o.batch_linger)),
        output_parser(c.exec.output),
        mapper(c.service, c.instance) {}

  // Appends one event to `batch`; a line its parser could not read is
  // shipped raw with attrs.parse_error.
  void AddEvent(Batch& batch, std::string_view text, LineParser& parser, bool truncated,
                const ExtraAttr* stream);
  // Where every file stands once the files batch is stored (a pending
  // multiline event holds its file back to its start).
  std::vector<FilePosition> PositionsNow();
  // Stores the files batch; false (batch kept, tailing paused) when the
  // spool has no room.
  bool SealFiles();
  // Stores the output batch, making room by dropping the oldest output
  // batches; drops this one when even that is not enough.
  void SealOutput();
  // Emits multiline events that are due (or all of them).
  void FlushJoiners(Steady::time_point now, bool all);
  // Moves queued lines of the child's output into the output batch.
  void TakeOutput();
  // Reads the files into the files batch; true when the batch limits
  // stopped it with more to read.
  bool ReadFiles();
  // One pass: scan, read, join, seal. True when there is more to read at once.
  bool Step();
  // When the next pass is due if nothing wakes the thread.
  Steady::time_point NextDue() const;
  // At shutdown: stores what was read.
  void Finish();

  bool Full(const Batch& b) const {
    return b.lines >= shipper.options_.max_batch_lines ||
           b.body.size() >= shipper.options_.max_batch_bytes;
  }
  auto EmitFile(Source& s) {
    return [this, &s](std::string_view event, const LineKey& key) {
      AddEvent(files, event, *s.parser, key.truncated, nullptr);
    };
  }

  LogShipper& shipper;
  const Steady::duration poll;    // how often globs and files are checked
  const Steady::duration linger;  // how long a batch's first line may wait
  std::vector<Source> sources;
  LineParser output_parser;
  std::unique_ptr<MultilineJoiner> output_joiners[2];  // stdout, stderr
  LogLineMapper mapper;
  LogThrottle full_log, drop_log;
  uint64_t next_seq = 1;
  std::string scratch;
  std::string parse_error_json;  // a parser's parse_error as a JSON string

  Batch files;              // lines of log files
  Batch output;             // lines of the child's output
  bool spool_full = false;  // the files batch waits for room: tailing pauses
  Steady::time_point last_scan{};
};

// Sending from the spool: the state of the sender thread.
struct LogShipper::Sender {
  Sender(LogShipper& s, const AgentConfig& c, const AgentOptions& o)
      : shipper(s),
        positions(c.spool_dir + "/positions.json"),
        backoff(o.retry_initial, o.retry_max),
        dead_letter_path(c.spool_dir + "/dead-letter.ndjson") {}

  enum class Shipped {
    kNone,   // no record ready (the spool is empty or its oldest is being written)
    kLeft,   // the oldest record was acknowledged or dead-lettered
    kRetry,  // it was not: retry at retry_at
  };
  // Sends the oldest spooled batch once.
  Shipped ShipOne();
  // Writes refused lines to the dead-letter file; false when that failed.
  bool DeadLetter(std::string_view body, uint64_t lines, const std::string& why);
  // Acknowledged (or dead-lettered): saves the record's positions and
  // forgets it.
  void Commit(const SpoolRecord& r);

  LogShipper& shipper;
  std::unique_ptr<HttpClient> client;
  PositionStore positions;
  Backoff backoff;
  LogThrottle retry_log, save_log;
  std::string dead_letter_path;
  Steady::time_point retry_at{};
  uint64_t oldest_seq = 0;  // the spool's oldest record, for the lag gauge
  Steady::time_point oldest_since{};
};

void LogShipper::Reader::AddEvent(Batch& batch, std::string_view text, LineParser& parser,
                                  bool truncated, const ExtraAttr* stream) {
  if (batch.lines == 0) batch.started = Steady::now();
  const MappableLine mappable = parser.ToMappable(text, scratch);
  ExtraAttr extra[3];
  size_t n = 0;
  if (truncated) {
    extra[n++] = kTruncated;
    shipper.metrics_.AddLinesTruncated(1);
  }
  if (stream != nullptr) extra[n++] = *stream;
  if (!mappable.parse_error.empty()) {
    parse_error_json = JsonString(mappable.parse_error);
    extra[n++] = {"parse_error", parse_error_json};
  }
  const std::string_view mapper_error = mapper.AppendEvent(
      mappable.text, Clock::System().Now(), batch.body, std::span<const ExtraAttr>(extra, n));
  if (!mappable.parse_error.empty() || !mapper_error.empty()) shipper.metrics_.AddLinesUnparsed(1);
  ++batch.lines;
}

std::vector<FilePosition> LogShipper::Reader::PositionsNow() {
  std::vector<FilePosition> out;
  for (auto& s : sources) {
    std::vector<std::pair<uint64_t, uint64_t>> holds;
    if (s.joiner && s.joiner->pending()) {
      holds.emplace_back(s.joiner->pending_key().file_id, s.joiner->pending_key().start);
    }
    for (auto& p : s.tailer->Positions(holds)) out.push_back(std::move(p));
  }
  return out;
}

bool LogShipper::Reader::SealFiles() {
  Spool& spool = *shipper.spool_;
  SpoolRecord r;
  r.batch_id = shipper.id_prefix_ + "-" + std::to_string(next_seq);
  r.from_files = true;
  r.lines = files.lines;
  r.positions = PositionsNow();
  r.body = std::move(files.body);
  const Status s = spool.Append(r);
  if (!s.ok()) {
    files.body = std::move(r.body);
    if (!spool_full && full_log.Allow()) {
      log::Warn("spool full or unwritable; file tailing paused until batches are shipped",
                {{"error", s.ToString()}, {"spool_bytes", spool.bytes()}});
    }
    spool_full = true;
    return false;
  }
  ++next_seq;
  spool_full = false;
  files.Clear();
  shipper.metrics_.SetSpool(spool.bytes(), spool.records());
  shipper.WakeSender();
  return true;
}

void LogShipper::Reader::SealOutput() {
  Spool& spool = *shipper.spool_;
  SpoolRecord r;
  r.batch_id = shipper.id_prefix_ + "-o" + std::to_string(next_seq);
  r.lines = output.lines;
  r.body = std::move(output.body);
  Status s = spool.Append(r);
  if (s.code() == StatusCode::kResourceExhausted) {
    const uint64_t dropped = spool.DropOldestStreamRecords(r.body.size() + 512);
    shipper.metrics_.AddLinesDropped(dropped);
    if (dropped > 0 && drop_log.Allow()) {
      log::Warn("spool full: dropped the oldest lines of the child's output",
                {{"lines", dropped}, {"suppressed", drop_log.TakeSuppressed()}});
    }
    s = spool.Append(r);
  }
  if (!s.ok()) {
    shipper.metrics_.AddLinesDropped(r.lines);
    if (drop_log.Allow()) {
      log::Warn("cannot spool the child's output; dropped it",
                {{"lines", r.lines}, {"error", s.ToString()}});
    }
  } else {
    ++next_seq;
    shipper.WakeSender();
  }
  output.Clear();
  shipper.metrics_.SetSpool(spool.bytes(), spool.records());
}

void LogShipper::Reader::FlushJoiners(Steady::time_point now, bool all) {
  for (auto& s : sources) {
    if (!s.joiner) continue;
    if (all) {
      s.joiner->Flush(EmitFile(s));
    } else {
      s.joiner->FlushIfDue(now, EmitFile(s));
    }
  }
  for (int i = 0; i < 2; ++i) {
    auto& j = output_joiners[i];
    if (!j) continue;
    auto emit = [this, i](std::string_view event, const LineKey& key) {
      AddEvent(output, event, output_parser, key.truncated, i == 0 ? &kStdout : &kStderr);
    };
    if (all) {
      j->Flush(emit);
    } else {
      j->FlushIfDue(now, emit);
    }
  }
}

void LogShipper::Reader::TakeOutput() {
  std::deque<OutputLine> lines;
  {
    std::lock_guard lock(shipper.mu_);
    lines.swap(shipper.output_);
    shipper.output_bytes_ = 0;
  }
  for (auto& line : lines) {
    const int i = line.is_stderr ? 1 : 0;
    const ExtraAttr* stream = line.is_stderr ? &kStderr : &kStdout;
    if (auto& j = output_joiners[i]) {
      j->Add(line.text, LineKey{0, 0, line.truncated},
             [&](std::string_view event, const LineKey& key) {
               AddEvent(output, event, output_parser, key.truncated, stream);
             });
    } else if (!Trim(line.text).empty()) {
      AddEvent(output, line.text, output_parser, line.truncated, stream);
    }
  }
  shipper.metrics_.AddLinesRead(lines.size());
}

bool LogShipper::Reader::ReadFiles() {
  bool more_to_read = false;
  for (auto& s : sources) {
    if (Full(files)) return true;
    const size_t room_lines = shipper.options_.max_batch_lines - files.lines;
    const size_t room_bytes = shipper.options_.max_batch_bytes - files.body.size();
    size_t handed = 0;
    s.tailer->ReadTailedLines(room_lines, room_bytes, [&](const TailedLine& line) {
      ++handed;
      if (s.joiner) {
        s.joiner->Add(line.text, LineKey{line.file_id, line.start, line.truncated}, EmitFile(s));
      } else if (!Trim(line.text).empty()) {
        AddEvent(files, line.text, *s.parser, line.truncated, nullptr);
      }
    });
    shipper.metrics_.AddLinesRead(handed);
    if (handed >= room_lines) more_to_read = true;
  }
  // Stopped by the batch limits: there is more right after sealing.
  return more_to_read || Full(files);
}

bool LogShipper::Reader::Step() {
  auto now = Steady::now();
  if (now - last_scan >= poll) {
    for (auto& s : sources) {
      s.tailer->Scan();
      s.tailer->DropFinished();  // what was read of them is in the batch or the spool
    }
    last_scan = now;
  }
  if (spool_full && shipper.spool_->HasRoom(files.body.size())) SealFiles();
  const bool more_to_read = !spool_full && ReadFiles();
  TakeOutput();
  now = Steady::now();
  FlushJoiners(now, false);
  if (!spool_full && files.lines > 0 && (Full(files) || now - files.started >= linger)) {
    SealFiles();
  }
  if (output.lines > 0 && (Full(output) || now - output.started >= linger)) SealOutput();
  return more_to_read && !spool_full;
}

Steady::time_point LogShipper::Reader::NextDue() const {
  auto until = last_scan + poll;
  if (files.lines > 0) until = std::min(until, files.started + linger);
  if (output.lines > 0) until = std::min(until, output.started + linger);
  for (const auto& s : sources) {
    if (s.joiner && s.joiner->pending()) until = std::min(until, s.joiner->due());
  }
  for (const auto& j : output_joiners) {
    if (j && j->pending()) until = std::min(until, j->due());
  }
  return until;
}

void LogShipper::Reader::Finish() {
  TakeOutput();
  FlushJoiners(Steady::now(), true);
  if (files.lines > 0) SealFiles();
  if (output.lines > 0) SealOutput();
}

bool LogShipper::Sender::DeadLetter(std::string_view body, uint64_t lines,
                                    const std::string& why) {
  if (Status s = AppendFileDurably(dead_letter_path, body); !s.ok()) {
    log::Error("cannot write the dead-letter file", {{"error", s.ToString()}});
    return false;
  }
  shipper.metrics_.AddLinesDeadLettered(lines);
  log::Error("collector refused log lines; wrote them to the dead-letter file",
             {{"lines", lines}, {"error", why}, {"file", dead_letter_path}});
  return true;
}

void LogShipper::Sender::Commit(const SpoolRecord& r) {
  if (r.from_files) {
    if (Status s = positions.Save(r.positions); !s.ok() && save_log.Allow()) {
      log::Error("cannot save log positions", {{"error", s.ToString()}});
    }
  }
  Spool& spool = *shipper.spool_;
  if (Status s = spool.Remove(r.seq); !s.ok()) {
    log::Error("cannot remove a shipped spool record", {{"error", s.ToString()}});
  }
  backoff.Reset();
  shipper.metrics_.SetSpool(spool.bytes(), spool.records());
  shipper.WakeReader();  // tailing may wait for room in the spool
}

LogShipper::Sender::Shipped LogShipper::Sender::ShipOne() {
  auto rec = shipper.spool_->Oldest();
  if (!rec) {
    shipper.metrics_.SetShipLagSeconds(0);
    return Shipped::kNone;
  }
  const auto now = Steady::now();
  if (rec->seq != oldest_seq) {
    oldest_seq = rec->seq;
    oldest_since = now;
  }
  shipper.metrics_.SetShipLagSeconds(std::chrono::duration<double>(now - oldest_since).count());
  const std::vector<Header> headers = {{"X-Hive-Batch-Id", rec->batch_id}};
  auto r = client->Send("POST", "/api/v1/ingest/logs", rec->body, "application/x-ndjson", headers);
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
        if (n > 0) DeadLetter(bad, n, first);
      }
    }
    shipper.metrics_.AddLinesShipped(accepted);
    shipper.metrics_.AddLinesRejected(rejected);
    Commit(*rec);
    return Shipped::kLeft;
  }
  if (r.ok() && (r->status == 400 || r->status == 413)) {
    if (DeadLetter(rec->body, rec->lines, StatusFromResponse(*r).ToString())) {
      shipper.metrics_.AddBatchDeadLettered();
      Commit(*rec);
      return Shipped::kLeft;
    }
  }
  const std::string error = r.ok() ? StatusFromResponse(*r).ToString() : r.status().ToString();
  shipper.metrics_.AddShipRetry();
  Duration pause = backoff.Next();
  if (r.ok() && (r->status == 429 || r->status == 503)) {
    if (auto after = RetryAfter(*r)) pause = std::max(pause, *after);
  }
  if (retry_log.Allow()) {
    log::Warn("cannot ship logs; retrying", {{"error", error},
                                             {"batch_id", rec->batch_id},
                                             {"retry_in", FormatDuration(pause)},
                                             {"spool_bytes", shipper.spool_->bytes()},
                                             {"suppressed", retry_log.TakeSuppressed()}});
  }
  retry_at = Steady::now() + std::chrono::duration_cast<Steady::duration>(pause);
  return Shipped::kRetry;
}

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
  auto reader = std::make_unique<Reader>(*this, config_, options_);
  auto sender = std::make_unique<Sender>(*this, config_, options_);
  HttpClientOptions http = ControlPlaneClientOptions(config_, options_);
  http.request_coding = RequestCoding::kZstd;
  auto client = HttpClient::Create(http);
  if (!client.ok()) return client.status();
  sender->client = std::move(*client);
  std::vector<FilePosition> saved;
  if (auto p = sender->positions.Load(); p.ok()) {
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
    reader->sources.push_back(std::move(s));
  }
  if (!config_.exec.output.multiline_start.empty()) {
    for (auto& j : reader->output_joiners) {
      j = std::make_unique<MultilineJoiner>(config_.exec.output.multiline_start,
                                            config_.exec.output.multiline_timeout,
                                            LogTailer::kDefaultMaxLine);
    }
  }
  reader_ = std::move(reader);
  sender_ = std::move(sender);
  id_prefix_ = config_.instance + "-" + RandomHex(8);
  {
    std::lock_guard lock(mu_);
    running_ = true;
  }
  reader_thread_ = std::thread([this] { ReadLoop(); });
  sender_thread_ = std::thread([this] { SendLoop(); });
  return Status::Ok();
}

void LogShipper::Stop() {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      drain_deadline_ = Steady::now() + options_.drain_timeout;
    }
    send_wake_ = true;
  }
  cv_.notify_all();
  if (reader_thread_.joinable()) reader_thread_.join();
  if (sender_thread_.joinable()) sender_thread_.join();
  {
    std::lock_guard lock(mu_);
    running_ = false;
  }
  reader_.reset();  // closes the files
  sender_.reset();  // and the connection
}

void LogShipper::WakeReader() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void LogShipper::WakeSender() {
  {
    std::lock_guard lock(mu_);
    send_wake_ = true;
  }
  cv_.notify_all();
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
  WakeSender();
  return Status::Ok();
}

void LogShipper::ReadLoop() {
  Reader& R = *reader_;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
      wake_ = false;
    }
    if (R.Step()) continue;
    const auto until = R.NextDue();
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, until, [&] { return stopping_ || wake_; });
  }
  // Shutdown: store what was read; the sender ships it until the deadline.
  R.Finish();
  {
    std::lock_guard lock(mu_);
    reader_done_ = true;
    send_wake_ = true;
  }
  cv_.notify_all();
}

void LogShipper::SendLoop() {
  Sender& S = *sender_;
  const auto poll = std::chrono::duration_cast<Steady::duration>(options_.poll_interval);
  while (true) {
    bool stopping, reader_done;
    Steady::time_point deadline;
    {
      std::lock_guard lock(mu_);
      stopping = stopping_;
      reader_done = reader_done_;
      deadline = drain_deadline_;
      send_wake_ = false;
    }
    const auto now = Steady::now();
    if (stopping && now >= deadline) break;
    if (reader_done && spool_->records() == 0) break;
    // Woken by a new record (or Stop); the poll is a backstop.
    auto until = now + poll;
    if (now < S.retry_at) {
      until = S.retry_at;
    } else {
      const Sender::Shipped shipped = S.ShipOne();
      if (shipped == Sender::Shipped::kLeft) continue;
      if (shipped == Sender::Shipped::kRetry) until = S.retry_at;
    }
    if (stopping) until = std::min(until, deadline);
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, until, [&] { return send_wake_; });
  }
  if (spool_->records() > 0) {
    log::Warn("shutting down with batches in the spool; they are sent after the next start",
              {{"records", spool_->records()}, {"bytes", spool_->bytes()}});
  }
}

}  // namespace hive::agent
