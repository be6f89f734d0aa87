// Searches: blocks are visited in the answer's order and skipped by what
// they are known to hold; the best `limit` matches are kept (segment_store.h).
#include <zstd.h>

#include <algorithm>

#include "segment_store.h"
#include "user_regex.h"

namespace hive::collector::segment {
namespace {

bool ContainsIgnoreCase(std::string_view text, std::string_view needle) {
  auto lower = [](unsigned char c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; };
  auto it = std::search(text.begin(), text.end(), needle.begin(), needle.end(),
                        [&](char a, char b) { return lower(a) == lower(b); });
  return it != text.end();
}

std::string EncodeCursor(bool newest_first, Position p) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%c%016llx%016llx", newest_first ? 'n' : 'o',
                static_cast<unsigned long long>(p.ts), static_cast<unsigned long long>(p.seq));
  return buf;
}

Result<Position> DecodeCursor(std::string_view text, bool newest_first) {
  auto bad = Status::InvalidArgument("'cursor' is not a cursor this query returned");
  if (text.size() != 33 || text[0] != (newest_first ? 'n' : 'o')) return bad;
  uint64_t parts[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    for (char c : text.substr(1 + 16 * k, 16)) {
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
      if (d < 0) return bad;
      parts[k] = parts[k] << 4 | static_cast<uint64_t>(d);
    }
  }
  return Position{static_cast<int64_t>(parts[0]), parts[1]};
}

}  // namespace

bool PreparedQuery::BlockMayMatch(const BlockSummary& b) const {
  if (b.count == 0) return false;
  if (b.max_level < f->min_level) return false;
  if (f->since_ns && b.max_ts < *f->since_ns) return false;
  if (f->until_ns && b.min_ts >= *f->until_ns) return false;
  if (f->after_seq) {
    if (b.first_seq + b.count - 1 <= *f->after_seq) return false;
  } else if (cursor) {
    if (f->newest_first ? b.min_ts > cursor->ts : b.max_ts < cursor->ts) return false;
  }
  if (b.services && !f->service.empty() &&
      std::find(b.services->begin(), b.services->end(), f->service) == b.services->end()) {
    return false;
  }
  if (b.bloom) {
    if (!f->trace_id.empty() && !b.bloom->MayContain(trace_hash)) return false;
    if (!f->service.empty() && !b.bloom->MayContain(service_hash)) return false;
    if (!f->instance.empty() && !b.bloom->MayContain(instance_hash)) return false;
  }
  return true;
}

bool PreparedQuery::EventMatches(const codec::EventView& v, uint64_t seq) const {
  if (v.level < f->min_level) return false;
  if (f->since_ns && v.ts_ns < *f->since_ns) return false;
  if (f->until_ns && v.ts_ns >= *f->until_ns) return false;
  if (!f->trace_id.empty() && v.trace_id != f->trace_id) return false;
  if (!f->service.empty() && v.service != f->service) return false;
  if (!f->instance.empty() && v.instance != f->instance) return false;
  if (f->after_seq) {
    if (seq <= *f->after_seq) return false;
  } else if (cursor) {
    Position p{v.ts_ns, seq};
    if (f->newest_first ? !(p < *cursor) : !(*cursor < p)) return false;
  }
  if (!f->message_contains.empty() && !ContainsIgnoreCase(v.message, f->message_contains))
    return false;
  if (regex && !RE2::PartialMatch(re2::StringPiece(v.message.data(), v.message.size()), *regex))
    return false;
  return true;
}

bool TopK::Wants(const BlockSummary& b) const {
  if (!q_.BlockMayMatch(b)) return false;
  if (q_.f->after_seq) return !full();
  if (!full()) return true;
  const int64_t worst = heap_.front().pos.ts;
  return newest_ ? b.max_ts > worst : b.min_ts < worst;
}

Status TopK::Scan(std::string_view data, const std::vector<codec::EventSpan>& spans,
                  uint64_t first_seq) {
  for (size_t i = 0; i < spans.size(); ++i) {
    if (q_.f->after_seq && full()) return Status::Ok();
    codec::EventView v;
    if (!codec::DecodeEventView(data.substr(spans[i].offset, spans[i].length), &v)) {
      return Status::Internal("undecodable event in the log store");
    }
    const uint64_t seq = first_seq + i;
    if (!q_.EventMatches(v, seq)) continue;
    Candidate c{{v.ts_ns, seq}, {}};
    if (q_.f->after_seq) {
      if (!codec::Materialize(v, &c.event)) return Status::Internal("undecodable attributes");
      heap_.push_back(std::move(c));  // in sequence order; no heap needed
      continue;
    }
    auto cmp = [this](const Candidate& a, const Candidate& b) { return Better(a.pos, b.pos); };
    if (full()) {
      if (!Better(c.pos, heap_.front().pos)) continue;
      std::pop_heap(heap_.begin(), heap_.end(), cmp);
      heap_.pop_back();
    }
    if (!codec::Materialize(v, &c.event)) return Status::Internal("undecodable attributes");
    heap_.push_back(std::move(c));
    std::push_heap(heap_.begin(), heap_.end(), cmp);
  }
  return Status::Ok();
}

LogPage TopK::Finish(uint64_t visible_last) {
  LogPage page;
  if (q_.f->after_seq) {
    page.last_seq = full() ? heap_.back().pos.seq : std::max(*q_.f->after_seq, visible_last);
  } else {
    std::sort(heap_.begin(), heap_.end(),
              [this](const Candidate& a, const Candidate& b) { return Better(a.pos, b.pos); });
    if (full() && !heap_.empty()) page.next = EncodeCursor(newest_, heap_.back().pos);
  }
  page.events.reserve(heap_.size());
  for (Candidate& c : heap_) page.events.push_back(std::move(c.event));
  return page;
}

BlockSummary Summary(const MemBlock& b) {
  return {b.first_seq, b.count(), b.min_ts, b.max_ts, b.max_level, nullptr, nullptr};
}
BlockSummary Summary(const SealedBlock& b) {
  return {b.first_seq,
          b.count,
          b.min_ts,
          b.max_ts,
          b.max_level,
          &b.bloom,
          b.services_known ? &b.services : nullptr};
}

Status SegmentLogStore::ScanSealed(const SealedBlock& block, TopK& out) {
  std::string compressed;
  HIVE_RETURN_IF_ERROR(ReadFully(env_, block.part->fd, block.offset, block.length, &compressed)
                           .WithContext(block.part->path));
  if (Crc32(0, compressed) != block.crc) {
    return Status::Internal("log block " + std::to_string(block.first_seq) + " in " +
                            block.part->path + " fails its CRC");
  }
  std::string raw(block.raw_length, '\0');
  size_t n = ZSTD_decompress(raw.data(), raw.size(), compressed.data(), compressed.size());
  if (ZSTD_isError(n) || n != raw.size()) {
    return Status::Internal("log block " + std::to_string(block.first_seq) + " in " +
                            block.part->path + " does not decompress");
  }
  std::vector<codec::EventSpan> spans;
  if (!codec::SplitEvents(raw, &spans) || spans.size() != block.count) {
    return Status::Internal("log block " + std::to_string(block.first_seq) + " is malformed");
  }
  return out.Scan(raw, spans, block.first_seq);
}

Result<LogPage> SegmentLogStore::Search(const LogFilter& filter) {
  PreparedQuery q;
  q.f = &filter;
  if (filter.limit == 0) return LogPage{};
  if (!filter.message_regex.empty()) {
    if (filter.message_regex.size() > kMaxRegexBytes) {
      return Status::InvalidArgument("the regex is longer than " + std::to_string(kMaxRegexBytes) +
                                     " characters");
    }
    Result<std::unique_ptr<RE2>> regex = CompileUserRegex(filter.message_regex);
    if (!regex.ok()) return regex.status();
    q.regex = std::move(*regex);
  }
  if (!filter.cursor.empty() && !filter.after_seq) {
    auto c = DecodeCursor(filter.cursor, filter.newest_first);
    if (!c.ok()) return c.status();
    q.cursor = *c;
  }
  if (!filter.trace_id.empty()) q.trace_hash = KeyHash('t', filter.trace_id);
  if (!filter.service.empty()) q.service_hash = KeyHash('s', filter.service);
  if (!filter.instance.empty()) q.instance_hash = KeyHash('i', filter.instance);

  TopK out(q);
  std::vector<std::shared_ptr<const SealedBlock>> sealed;
  std::vector<std::shared_ptr<const MemBlock>> cut;
  MemBlock open_copy;
  uint64_t visible_last;
  {
    std::shared_lock lock(index_mu_);
    sealed = blocks_;
    cut.assign(sealing_.begin(), sealing_.end());
    visible_last = open_->first_seq + open_->count() - 1;
    // The open block changes under the writer: scan a copy, taken only when
    // it may match.
    if (q.BlockMayMatch(Summary(*open_))) {
      open_copy.first_seq = open_->first_seq;
      open_copy.data = open_->data;
      open_copy.spans = open_->spans;
      open_copy.min_ts = open_->min_ts;
      open_copy.max_ts = open_->max_ts;
      open_copy.max_level = open_->max_level;
    }
  }
  // Answer order of ingest: newest (and tails) from the open block back, or
  // oldest first from the first sealed block.
  const bool forward = !filter.newest_first || filter.after_seq.has_value();
  auto visit_mem = [&](const MemBlock& b) -> Status {
    if (!out.Wants(Summary(b))) return Status::Ok();
    return out.Scan(b.data, b.spans, b.first_seq);
  };
  auto visit_sealed = [&](const SealedBlock& b) -> Status {
    if (!out.Wants(Summary(b))) return Status::Ok();
    return ScanSealed(b, out);
  };
  if (forward) {
    for (const auto& b : sealed) HIVE_RETURN_IF_ERROR(visit_sealed(*b));
    for (const auto& b : cut) HIVE_RETURN_IF_ERROR(visit_mem(*b));
    HIVE_RETURN_IF_ERROR(visit_mem(open_copy));
  } else {
    HIVE_RETURN_IF_ERROR(visit_mem(open_copy));
    for (auto it = cut.rbegin(); it != cut.rend(); ++it) HIVE_RETURN_IF_ERROR(visit_mem(**it));
    for (auto it = sealed.rbegin(); it != sealed.rend(); ++it)
      HIVE_RETURN_IF_ERROR(visit_sealed(**it));
  }
  return out.Finish(visible_last);
}

}  // namespace hive::collector::segment
