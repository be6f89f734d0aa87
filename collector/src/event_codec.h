// The binary encoding of one batch record's payload in the segment store.
// Internal to hive_collector. Pure functions, thread-safe.
// A block of the log store holds the same event framing without the header.
//
// Payload:  u8 version (1) | str batch_id | varint accepted | varint rejected
//           | varint count | count x (varint body_length | event body)
// Event:    fixed64 ts_ns | u8 level | str service | str instance | str message
//           | str trace_id | str span_id | str parent_span_id | varint n_attrs
//           | n_attrs x (str key | u8 tag | value)
//           tag 0 str, 1 fixed64 int64, 2 fixed64 double bits, 3 u8 bool
// str = varint length | bytes. Integers are little-endian.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hive/collector/log_event.h"
#include "hive/collector/log_store.h"

namespace hive::collector::codec {

// Where one event body sits inside a payload.
struct EventSpan {
  uint32_t offset = 0;
  uint32_t length = 0;
};

struct EncodedBatch {
  std::string payload;
  std::vector<EventSpan> spans;  // one per event, in order
  // Where the events (varint body_length | body, repeated) start: the rest
  // of the payload is exactly a log-store block's uncompressed form.
  uint32_t events_offset = 0;
};

EncodedBatch EncodeBatch(const LogBatch& batch);

struct BatchHeader {
  std::string_view batch_id;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint32_t events_offset = 0;  // as in EncodedBatch
};

// Splits a payload into its header and event spans; false when malformed.
bool DecodeBatch(std::string_view payload, BatchHeader* header, std::vector<EventSpan>* spans);

// Splits a block's uncompressed form (varint body_length | body, repeated to
// the end) into event spans; false when malformed.
bool SplitEvents(std::string_view events, std::vector<EventSpan>* spans);

// An event body decoded without copying; views point into the body.
struct EventView {
  int64_t ts_ns = 0;
  LogLevel level = LogLevel::kInfo;
  std::string_view service, instance, message, trace_id, span_id, parent_span_id;
  uint64_t attr_count = 0;
  std::string_view attrs;  // the encoded attributes
};

// False when `body` is malformed.
bool DecodeEventView(std::string_view body, EventView* view);

// Copies a view into an event, decoding its attributes; false when malformed.
bool Materialize(const EventView& view, LogEvent* event);

}  // namespace hive::collector::codec
