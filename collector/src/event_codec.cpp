#include "event_codec.h"

#include <cstring>

namespace hive::collector::codec {
namespace {

constexpr uint8_t kVersion = 1;
constexpr uint8_t kMaxLevel = static_cast<uint8_t>(LogLevel::kFatal);

enum AttrTag : uint8_t { kString = 0, kInt = 1, kDouble = 2, kBool = 3 };

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void PutFixed64(std::string& out, uint64_t v) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(v >> (8 * i));
  out.append(buf, 8);
}

void PutString(std::string& out, std::string_view s) {
  PutVarint(out, s.size());
  out.append(s);
}

void EncodeEvent(std::string& out, const LogEvent& e) {
  PutFixed64(out, static_cast<uint64_t>(e.ts_ns));
  out.push_back(static_cast<char>(e.level));
  PutString(out, e.service);
  PutString(out, e.instance);
  PutString(out, e.message);
  PutString(out, e.trace_id);
  PutString(out, e.span_id);
  PutString(out, e.parent_span_id);
  PutVarint(out, e.attrs.size());
  for (const auto& [key, value] : e.attrs) {
    PutString(out, key);
    if (const auto* s = std::get_if<std::string>(&value)) {
      out.push_back(kString);
      PutString(out, *s);
    } else if (const auto* i = std::get_if<int64_t>(&value)) {
      out.push_back(kInt);
      PutFixed64(out, static_cast<uint64_t>(*i));
    } else if (const auto* d = std::get_if<double>(&value)) {
      out.push_back(kDouble);
      uint64_t bits;
      std::memcpy(&bits, d, sizeof bits);
      PutFixed64(out, bits);
    } else {
      out.push_back(kBool);
      out.push_back(std::get<bool>(value) ? 1 : 0);
    }
  }
}

// Bounds-checked reading of a byte string.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return false;
      auto b = static_cast<uint8_t>(data_[pos_++]);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool Fixed64(uint64_t* v) {
    if (data_.size() - pos_ < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i)
      *v |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return true;
  }
  bool Byte(uint8_t* b) {
    if (pos_ >= data_.size()) return false;
    *b = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool Bytes(uint64_t n, std::string_view* out) {
    if (data_.size() - pos_ < n) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool String(std::string_view* out) {
    uint64_t n;
    return Varint(&n) && Bytes(n, out);
  }
  size_t pos() const { return pos_; }
  bool done() const { return pos_ == data_.size(); }
  std::string_view rest() const { return data_.substr(pos_); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace

EncodedBatch EncodeBatch(const LogBatch& batch) {
  EncodedBatch out;
  std::string& p = out.payload;
  p.push_back(static_cast<char>(kVersion));
  PutString(p, batch.batch_id);
  PutVarint(p, batch.events.size());
  PutVarint(p, batch.rejected);
  PutVarint(p, batch.events.size());
  out.events_offset = static_cast<uint32_t>(p.size());
  out.spans.reserve(batch.events.size());
  std::string body;
  for (const LogEvent& e : batch.events) {
    body.clear();
    EncodeEvent(body, e);
    PutVarint(p, body.size());
    out.spans.push_back({static_cast<uint32_t>(p.size()), static_cast<uint32_t>(body.size())});
    p += body;
  }
  return out;
}

bool DecodeBatch(std::string_view payload, BatchHeader* header, std::vector<EventSpan>* spans) {
  Reader r(payload);
  uint8_t version;
  uint64_t count;
  if (!r.Byte(&version) || version != kVersion || !r.String(&header->batch_id) ||
      !r.Varint(&header->accepted) || !r.Varint(&header->rejected) || !r.Varint(&count)) {
    return false;
  }
  header->events_offset = static_cast<uint32_t>(r.pos());
  spans->clear();
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t len;
    std::string_view body;
    if (!r.Varint(&len)) return false;
    size_t offset = r.pos();
    if (!r.Bytes(len, &body)) return false;
    spans->push_back({static_cast<uint32_t>(offset), static_cast<uint32_t>(len)});
  }
  return r.done();
}

bool SplitEvents(std::string_view events, std::vector<EventSpan>* spans) {
  Reader r(events);
  spans->clear();
  while (!r.done()) {
    uint64_t len;
    std::string_view body;
    if (!r.Varint(&len)) return false;
    size_t offset = r.pos();
    if (!r.Bytes(len, &body)) return false;
    spans->push_back({static_cast<uint32_t>(offset), static_cast<uint32_t>(len)});
  }
  return true;
}

bool DecodeEventView(std::string_view body, EventView* v) {
  Reader r(body);
  uint64_t ts;
  uint8_t level;
  if (!r.Fixed64(&ts) || !r.Byte(&level) || level > kMaxLevel || !r.String(&v->service) ||
      !r.String(&v->instance) || !r.String(&v->message) || !r.String(&v->trace_id) ||
      !r.String(&v->span_id) || !r.String(&v->parent_span_id) || !r.Varint(&v->attr_count)) {
    return false;
  }
  v->ts_ns = static_cast<int64_t>(ts);
  v->level = static_cast<LogLevel>(level);
  v->attrs = r.rest();
  return true;
}

bool Materialize(const EventView& v, LogEvent* e) {
  e->ts_ns = v.ts_ns;
  e->level = v.level;
  e->service.assign(v.service);
  e->instance.assign(v.instance);
  e->message.assign(v.message);
  e->trace_id.assign(v.trace_id);
  e->span_id.assign(v.span_id);
  e->parent_span_id.assign(v.parent_span_id);
  e->attrs.clear();
  Reader r(v.attrs);
  for (uint64_t i = 0; i < v.attr_count; ++i) {
    std::string_view key;
    uint8_t tag;
    if (!r.String(&key) || !r.Byte(&tag)) return false;
    AttrValue value;
    switch (tag) {
      case kString: {
        std::string_view s;
        if (!r.String(&s)) return false;
        value = std::string(s);
        break;
      }
      case kInt: {
        uint64_t bits;
        if (!r.Fixed64(&bits)) return false;
        value = static_cast<int64_t>(bits);
        break;
      }
      case kDouble: {
        uint64_t bits;
        if (!r.Fixed64(&bits)) return false;
        double d;
        std::memcpy(&d, &bits, sizeof d);
        value = d;
        break;
      }
      case kBool: {
        uint8_t b;
        if (!r.Byte(&b)) return false;
        value = b != 0;
        break;
      }
      default:
        return false;
    }
    e->attrs.emplace_back(std::string(key), std::move(value));
  }
  return r.done();
}

}  // namespace hive::collector::codec
