#include "hive/core/json_writer.h"

#include <cassert>

#include "hive/core/text.h"

namespace hive {

void JsonWriter::Separate() {
  if (need_comma_) out_ += ',';
  need_comma_ = false;
}

JsonWriter& JsonWriter::Wrote() {
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::Open(char bracket) {
  Separate();
  out_ += bracket;
  open_.push_back(bracket);
  return *this;
}

JsonWriter& JsonWriter::Close(char opened, char bracket) {
  assert(!open_.empty() && open_.back() == opened);
  (void)opened;
  open_.pop_back();
  out_ += bracket;
  return Wrote();
}

JsonWriter& JsonWriter::BeginObject() { return Open('{'); }
JsonWriter& JsonWriter::EndObject() { return Close('{', '}'); }
JsonWriter& JsonWriter::BeginArray() { return Open('['); }
JsonWriter& JsonWriter::EndArray() { return Close('[', ']'); }

JsonWriter& JsonWriter::Key(std::string_view name) {
  assert(!open_.empty() && open_.back() == '{');
  Separate();
  AppendJsonString(out_, name);
  out_ += ':';
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view v) {
  Separate();
  AppendJsonString(out_, v);
  return Wrote();
}

JsonWriter& JsonWriter::Int(int64_t v) {
  Separate();
  out_ += std::to_string(v);
  return Wrote();
}

JsonWriter& JsonWriter::Uint(uint64_t v) {
  Separate();
  out_ += std::to_string(v);
  return Wrote();
}

JsonWriter& JsonWriter::Double(double v) {
  Separate();
  AppendJsonNumber(out_, v);
  return Wrote();
}

JsonWriter& JsonWriter::Bool(bool v) {
  Separate();
  out_ += v ? "true" : "false";
  return Wrote();
}

JsonWriter& JsonWriter::Null() {
  Separate();
  out_ += "null";
  return Wrote();
}

JsonWriter& JsonWriter::Raw(std::string_view json) {
  Separate();
  out_ += json;
  return Wrote();
}

JsonWriter& JsonWriter::Time(TimePoint t) {
  Separate();
  out_ += '"';
  AppendRfc3339(out_, t);
  out_ += '"';
  return Wrote();
}

std::string JsonWriter::Take() {
  std::string out = std::move(out_);
  out_.clear();
  need_comma_ = false;
  open_.clear();
  return out;
}

}  // namespace hive
