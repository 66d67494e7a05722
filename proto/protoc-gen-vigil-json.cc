// protoc-gen-vigil-json: a protoc plugin that writes, for each .proto file
// x.proto, x.json.h and x.json.cc with one JSON writer per message, made of
// the generated accessors (no reflection):
//
//   namespace <package>::json {
//   [[nodiscard]] bool writeJson(const M& m, std::string& out);  // every message M
//   void writeJson(E v, std::string& out);                       // every enum E
//   }
//
// The format is proto/json.h's; the writers print byte for byte what
// its reflection writer (renderJsonReflection) prints, and the unit tests
// compare the two. What they share lives in proto/json_runtime.h.
//
//   protoc --plugin=protoc-gen-vigiljson=<this> --vigiljson_out=<dir> x.proto
//
// Messages of the well-known types (files google/protobuf/*) have no writers
// of their own: Timestamp and Duration use the runtime's, the others get
// file-local writers in each file that uses them. Where the reflection
// writer fails (bytes and floating-point values have no rendering there) the
// generated one returns false, and renderJson asks the reflection writer for
// the error.

#include <google/protobuf/compiler/code_generator.h>
#include <google/protobuf/compiler/plugin.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::OneofDescriptor;
using google::protobuf::compiler::CodeGenerator;
using google::protobuf::compiler::GeneratorContext;

// --- C++ names, as protoc's C++ generator makes them (compiler/cpp/helpers.cc) --

bool isCppKeyword(const std::string& name) {
  static const std::unordered_set<std::string> kKeywords = {
      "NULL",          "alignas",      "alignof",   "and",        "and_eq",
      "asm",           "auto",         "bitand",    "bitor",      "bool",
      "break",         "case",         "catch",     "char",       "class",
      "compl",         "const",        "constexpr", "const_cast", "continue",
      "decltype",      "default",      "delete",    "do",         "double",
      "dynamic_cast",  "else",         "enum",      "explicit",   "export",
      "extern",        "false",        "float",     "for",        "friend",
      "goto",          "if",           "inline",    "int",        "long",
      "mutable",       "namespace",    "new",       "noexcept",   "not",
      "not_eq",        "nullptr",      "operator",  "or",         "or_eq",
      "private",       "protected",    "public",    "register",   "reinterpret_cast",
      "return",        "short",        "signed",    "sizeof",     "static",
      "static_assert", "static_cast",  "struct",    "switch",     "template",
      "this",          "thread_local", "throw",     "true",       "try",
      "typedef",       "typeid",       "typename",  "union",      "unsigned",
      "using",         "virtual",      "void",      "volatile",   "wchar_t",
      "while",         "xor",          "xor_eq"};
  return kKeywords.count(name) > 0;
}

std::string resolveKeyword(const std::string& name) { return isCppKeyword(name) ? name + "_" : name; }

std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// "vigil.v1" -> "::vigil::v1"
std::string cppNamespace(const FileDescriptor* file) {
  return file->package().empty() ? "" : "::" + replaceAll(file->package(), ".", "::");
}

std::string className(const Descriptor* d) {
  std::string name = d->containing_type() != nullptr ? className(d->containing_type()) + "_" : "";
  return resolveKeyword(name + d->name());
}

std::string className(const EnumDescriptor* e) {
  std::string name = e->containing_type() != nullptr ? className(e->containing_type()) + "_" : "";
  return resolveKeyword(name + e->name());
}

std::string qualified(const Descriptor* d) { return cppNamespace(d->file()) + "::" + className(d); }
std::string qualified(const EnumDescriptor* e) { return cppNamespace(e->file()) + "::" + className(e); }

// The accessor stem: the field name lower-cased, '_' appended to keywords.
std::string fieldName(const FieldDescriptor* f) {
  std::string name = f->name();
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') {
      c = char(c - 'A' + 'a');
    }
  }
  return resolveKeyword(name);
}

// Where the writers of a file's messages live: "::vigil::v1::json".
std::string jsonNamespace(const FileDescriptor* file) { return cppNamespace(file) + "::json"; }

std::string stripProto(const std::string& name) {
  const std::string suffix = ".proto";
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return name.substr(0, name.size() - suffix.size());
  }
  return name;
}

// The well-known types: compiled into libprotobuf, no generated writers.
bool isWellKnown(const FileDescriptor* file) { return file->name().rfind("google/protobuf/", 0) == 0; }
bool isTimestamp(const Descriptor* d) { return d->full_name() == "google.protobuf.Timestamp"; }
bool isDuration(const Descriptor* d) { return d->full_name() == "google.protobuf.Duration"; }

// --- C++ text --------------------------------------------------------------------

// s as the body of a C++ string literal.
std::string cppEscape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c >= 0x7f) {
      static const char kOctal[] = "01234567";
      out += '\\';
      out += kOctal[c >> 6];
      out += kOctal[(c >> 3) & 7];
      out += kOctal[c & 7];
    } else {
      out += char(c);
    }
  }
  return out;
}

// s as a JSON string (field names and enum value names are identifiers:
// this only ever adds the quotes, but is exact anyway).
std::string jsonQuote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

// The statement appending the fixed text.
std::string appendText(const std::string& text) {
  if (text.size() == 1) {
    return "out.push_back('" + (text == "'" || text == "\\" ? "\\" + text : text) + "');";
  }
  return "out.append(\"" + cppEscape(text) + "\", " + std::to_string(text.size()) + ");";
}

// Lines of C++. Fixed text appended to `out` by consecutive statements at
// one level ('}' then ",\"next\":") becomes one append.
class Code {
public:
  void line(int indent, const std::string& text) {
    flush();
    text_.append(size_t(indent) * 2, ' ');
    text_ += text;
    text_ += '\n';
  }
  void literal(int indent, const std::string& text) {
    if (!pending_.empty() && indent != pending_indent_) {
      flush();
    }
    pending_ += text;
    pending_indent_ = indent;
  }
  void blank() {
    flush();
    text_ += '\n';
  }
  const std::string& text() {
    flush();
    return text_;
  }

private:
  void flush() {
    if (!pending_.empty()) {
      std::string text = appendText(pending_);
      pending_.clear();
      line(pending_indent_, text);
    }
  }

  std::string text_;
  std::string pending_;
  int pending_indent_ = 0;
};

// --- one file --------------------------------------------------------------------

class FileGenerator {
public:
  explicit FileGenerator(const FileDescriptor* file) : file_(file) {}

  std::string header() const;
  std::string source();

private:
  // Whether a separator is needed before the next member of the object
  // being written: the part written so far is known empty, known non-empty,
  // or depends on fields with presence (the `any` flag then says).
  enum class Written { None, Some, Unknown };

  void collect(const Descriptor* d, std::vector<const Descriptor*>& out) const;
  void collectLocal(const Descriptor* d);
  void noteType(const FieldDescriptor* f);
  void message(Code& code, const Descriptor* d, bool local);
  void field(Code& code, int indent, const FieldDescriptor* f, Written written, bool set_any);
  void value(Code& code, int indent, const FieldDescriptor* f, const std::string& expr);
  void enumWriter(Code& code, const EnumDescriptor* e, bool local);

  const FileDescriptor* file_;
  // Well-known messages and enums this file needs file-local writers for.
  std::vector<const Descriptor*> local_messages_;
  std::vector<const EnumDescriptor*> local_enums_;
  // Other files whose writers this file calls.
  std::set<std::string> includes_;
};

// d and its nested messages, map entries excluded, in declaration order.
void FileGenerator::collect(const Descriptor* d, std::vector<const Descriptor*>& out) const {
  if (d->options().map_entry()) {
    return;
  }
  out.push_back(d);
  for (int i = 0; i < d->nested_type_count(); ++i) {
    collect(d->nested_type(i), out);
  }
}

void collectEnums(const Descriptor* d, std::vector<const EnumDescriptor*>& out) {
  for (int i = 0; i < d->enum_type_count(); ++i) {
    out.push_back(d->enum_type(i));
  }
  for (int i = 0; i < d->nested_type_count(); ++i) {
    collectEnums(d->nested_type(i), out);
  }
}

// The writers f's values call: another file's header, or a file-local writer
// for a well-known type.
void FileGenerator::noteType(const FieldDescriptor* f) {
  if (f->is_map()) {
    noteType(f->message_type()->map_value());
    return;
  }
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
    const EnumDescriptor* e = f->enum_type();
    if (isWellKnown(e->file())) {
      if (std::find(local_enums_.begin(), local_enums_.end(), e) == local_enums_.end()) {
        local_enums_.push_back(e);
      }
    } else if (e->file() != file_) {
      includes_.insert(stripProto(e->file()->name()) + ".json.h");
    }
  } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    const Descriptor* d = f->message_type();
    if (isTimestamp(d) || isDuration(d)) {
      return;
    }
    if (isWellKnown(d->file())) {
      collectLocal(d);
    } else if (d->file() != file_) {
      includes_.insert(stripProto(d->file()->name()) + ".json.h");
    }
  }
}

void FileGenerator::collectLocal(const Descriptor* d) {
  if (std::find(local_messages_.begin(), local_messages_.end(), d) != local_messages_.end()) {
    return;
  }
  local_messages_.push_back(d);
  for (int i = 0; i < d->field_count(); ++i) {
    noteType(d->field(i));
  }
}

std::string FileGenerator::header() const {
  Code code;
  code.line(0, "// Generated by protoc-gen-vigil-json from " + file_->name() + ": do not edit.");
  code.line(0, "// JSON writers using the generated accessors, in the format of");
  code.line(0, "// proto/json.h: the same bytes as vigil::renderJsonReflection.");
  code.line(0, "#pragma once");
  code.blank();
  code.line(0, "#include \"" + stripProto(file_->name()) + ".pb.h\"");
  code.blank();
  code.line(0, "#include <string>");
  code.blank();
  code.line(0, "namespace " + jsonNamespace(file_).substr(2) + " {");
  std::vector<const Descriptor*> messages;
  for (int i = 0; i < file_->message_type_count(); ++i) {
    collect(file_->message_type(i), messages);
  }
  if (!messages.empty()) {
    code.blank();
    code.line(0, "// Appends m as one JSON object. False when a value has no JSON form here (a");
    code.line(0, "// Timestamp outside years 1-9999, a malformed Duration, a bytes or floating-point");
    code.line(0, "// field): out then holds part of it, and renderJsonReflection says why.");
    for (const Descriptor* d : messages) {
      code.line(0, "[[nodiscard]] bool writeJson(const " + qualified(d) + "& m, std::string& out);");
    }
  }
  std::vector<const EnumDescriptor*> enums;
  for (int i = 0; i < file_->enum_type_count(); ++i) {
    enums.push_back(file_->enum_type(i));
  }
  for (const Descriptor* d : messages) {
    collectEnums(d, enums);
  }
  if (!enums.empty()) {
    code.blank();
    code.line(0, "// Appends the name of v as a JSON string.");
    for (const EnumDescriptor* e : enums) {
      code.line(0, "void writeJson(" + qualified(e) + " v, std::string& out);");
    }
  }
  code.blank();
  code.line(0, "} // namespace " + jsonNamespace(file_).substr(2));
  return code.text();
}

std::string FileGenerator::source() {
  std::vector<const Descriptor*> messages;
  for (int i = 0; i < file_->message_type_count(); ++i) {
    collect(file_->message_type(i), messages);
  }
  std::vector<const EnumDescriptor*> enums;
  for (int i = 0; i < file_->enum_type_count(); ++i) {
    enums.push_back(file_->enum_type(i));
  }
  for (const Descriptor* d : messages) {
    collectEnums(d, enums);
    for (int i = 0; i < d->field_count(); ++i) {
      noteType(d->field(i));
    }
  }

  Code body;
  for (const Descriptor* d : messages) {
    message(body, d, false);
  }
  for (const EnumDescriptor* e : enums) {
    enumWriter(body, e, false);
  }
  Code local;
  for (const Descriptor* d : local_messages_) {
    message(local, d, true);
  }
  for (const EnumDescriptor* e : local_enums_) {
    enumWriter(local, e, true);
  }

  Code code;
  code.line(0, "// Generated by protoc-gen-vigil-json from " + file_->name() + ": do not edit.");
  code.line(0, "#include \"" + stripProto(file_->name()) + ".json.h\"");
  code.blank();
  code.line(0, "#include \"proto/json_runtime.h\"");
  for (const std::string& include : includes_) {
    code.line(0, "#include \"" + include + "\"");
  }
  code.blank();
  code.line(0, "namespace " + jsonNamespace(file_).substr(2) + " {");
  if (!local_messages_.empty() || !local_enums_.empty()) {
    code.line(0, "namespace {");
    code.blank();
    code.line(0, "// Well-known types other than Timestamp and Duration: plain messages.");
    for (const Descriptor* d : local_messages_) {
      code.line(0, "bool writeJsonLocal(const " + qualified(d) + "& m, std::string& out);");
    }
    for (const EnumDescriptor* e : local_enums_) {
      code.line(0, "void writeJsonLocal(" + qualified(e) + " v, std::string& out);");
    }
    std::string text = local.text();
    code.blank();
    code.line(0, text.substr(0, text.size() - 1));
    code.line(0, "} // namespace");
  }
  code.blank();
  std::string text = body.text();
  code.line(0, text.substr(0, text.size() - 1));
  code.line(0, "} // namespace " + jsonNamespace(file_).substr(2));
  return code.text();
}

void FileGenerator::enumWriter(Code& code, const EnumDescriptor* e, bool local) {
  code.line(0,
            "void " + std::string(local ? "writeJsonLocal(" : "writeJson(") + qualified(e) + " v, std::string& out) {");
  code.line(1, "switch (static_cast<int>(v)) {");
  // Aliases (allow_alias) print the first name of the number, as reflection does.
  std::set<int> seen;
  for (int i = 0; i < e->value_count(); ++i) {
    if (!seen.insert(e->value(i)->number()).second) {
      continue;
    }
    code.line(1, "case " + std::to_string(e->value(i)->number()) + ":");
    code.literal(2, jsonQuote(e->value(i)->name()));
    code.line(2, "return;");
  }
  code.line(1, "default:");
  code.line(2, "::vigil::json::writeUnknownEnum(\"" + cppEscape(e->name()) + "\", static_cast<int>(v), out);");
  code.line(1, "}");
  code.line(0, "}");
  code.blank();
}

void FileGenerator::message(Code& code, const Descriptor* d, bool local) {
  const std::string param = d->field_count() > 0 ? "m" : "/*m*/";
  code.line(0, "bool " + std::string(local ? "writeJsonLocal(" : "writeJson(") + "const " + qualified(d) + "& " +
                   param + ", std::string& out) {");

  // Runs of fields: a field alone, or consecutive members of one oneof.
  std::vector<std::vector<const FieldDescriptor*>> runs;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const OneofDescriptor* oneof = f->real_containing_oneof();
    if (oneof != nullptr && !runs.empty() && runs.back().front()->real_containing_oneof() == oneof) {
      runs.back().push_back(f);
    } else {
      runs.push_back({f});
    }
  }

  // What is known after a run: a member was written for sure, unless the
  // run's fields have presence.
  auto after = [](Written before, const std::vector<const FieldDescriptor*>& run) {
    return before == Written::Some || !run.front()->has_presence() ? Written::Some : Written::Unknown;
  };
  // Whether some run is reached not knowing whether a member was written.
  bool any_read = false;
  {
    Written written = Written::None;
    for (const auto& run : runs) {
      any_read = any_read || written == Written::Unknown;
      written = after(written, run);
    }
  }
  if (any_read) {
    code.line(1, "bool any = false; // a member was written");
  }
  code.literal(1, "{");

  Written written = Written::None;
  for (const auto& run : runs) {
    const FieldDescriptor* first = run.front();
    if (first->real_containing_oneof() != nullptr) {
      code.line(1, "switch (static_cast<int>(m." + first->real_containing_oneof()->name() + "_case())) {");
      for (const FieldDescriptor* f : run) {
        code.line(1, "case " + std::to_string(f->number()) + ": { // " + f->name());
        field(code, 2, f, written, any_read && written != Written::Some);
        code.line(2, "break;");
        code.line(1, "}");
      }
      code.line(1, "default:");
      code.line(2, "break;");
      code.line(1, "}");
    } else if (first->has_presence()) {
      code.line(1, "if (m.has_" + fieldName(first) + "()) {");
      field(code, 2, first, written, any_read && written != Written::Some);
      code.line(1, "}");
    } else {
      field(code, 1, first, written, false);
    }
    written = after(written, run);
  }
  code.literal(1, "}");
  code.line(1, "return true;");
  code.line(0, "}");
  code.blank();
}

// Field f of m: its key, after a separator as `written` says, and its value;
// set_any: note in `any` that a member was written.
void FileGenerator::field(Code& code, int indent, const FieldDescriptor* f, Written written, bool set_any) {
  std::string key = jsonQuote(f->name()) + ":";
  if (written == Written::Unknown) {
    code.line(indent, "if (any) {");
    code.literal(indent + 1, ",");
    code.line(indent, "}");
  } else if (written == Written::Some) {
    key = "," + key;
  }
  if (set_any) {
    code.line(indent, "any = true;");
  }
  const std::string name = fieldName(f);
  if (f->is_map()) {
    code.literal(indent, key + "{");
    const std::string entries = name + "_entries";
    code.line(indent, "const auto " + entries + " = ::vigil::json::sortedEntries(m." + name + "());");
    code.line(indent, "for (size_t i = 0; i < " + entries + ".size(); ++i) {");
    code.line(indent + 1, "if (i > 0) {");
    code.literal(indent + 2, ",");
    code.line(indent + 1, "}");
    code.line(indent + 1, "::vigil::json::writeMapKey(" + entries + "[i]->first, out);");
    code.literal(indent + 1, ":");
    value(code, indent + 1, f->message_type()->map_value(), entries + "[i]->second");
    code.line(indent, "}");
    code.literal(indent, "}");
  } else if (f->is_repeated()) {
    code.literal(indent, key + "[");
    code.line(indent, "for (int i = 0; i < m." + name + "_size(); ++i) {");
    code.line(indent + 1, "if (i > 0) {");
    code.literal(indent + 2, ",");
    code.line(indent + 1, "}");
    value(code, indent + 1, f, "m." + name + "(i)");
    code.line(indent, "}");
    code.literal(indent, "]");
  } else {
    code.literal(indent, key);
    value(code, indent, f, "m." + name + "()");
  }
}

// The statements appending the value expr of f's type.
void FileGenerator::value(Code& code, int indent, const FieldDescriptor* f, const std::string& expr) {
  switch (f->cpp_type()) {
  case FieldDescriptor::CPPTYPE_INT32:
  case FieldDescriptor::CPPTYPE_UINT32:
    code.line(indent, "::vigil::json::writeNumber(" + expr + ", out);");
    return;
  case FieldDescriptor::CPPTYPE_INT64: // JSON strings
  case FieldDescriptor::CPPTYPE_UINT64:
    code.literal(indent, "\"");
    code.line(indent, "::vigil::json::writeNumber(" + expr + ", out);");
    code.literal(indent, "\"");
    return;
  case FieldDescriptor::CPPTYPE_BOOL:
    code.line(indent, "::vigil::json::writeBool(" + expr + ", out);");
    return;
  case FieldDescriptor::CPPTYPE_ENUM: {
    const EnumDescriptor* e = f->enum_type();
    const std::string fn = isWellKnown(e->file()) ? "writeJsonLocal" : jsonNamespace(e->file()) + "::writeJson";
    code.line(indent, fn + "(static_cast<" + qualified(e) + ">(" + expr + "), out);");
    return;
  }
  case FieldDescriptor::CPPTYPE_STRING:
    if (f->type() == FieldDescriptor::TYPE_BYTES) {
      code.line(indent, "return false; // bytes: no JSON rendering here");
    } else {
      code.literal(indent, "\"");
      code.line(indent, "::vigil::json::writeEscaped(" + expr + ", out);");
      code.literal(indent, "\"");
    }
    return;
  case FieldDescriptor::CPPTYPE_MESSAGE: {
    const Descriptor* d = f->message_type();
    std::string fn;
    if (isTimestamp(d)) {
      fn = "::vigil::json::writeTimestamp";
    } else if (isDuration(d)) {
      fn = "::vigil::json::writeDuration";
    } else if (isWellKnown(d->file())) {
      fn = "writeJsonLocal";
    } else {
      fn = jsonNamespace(d->file()) + "::writeJson";
    }
    code.line(indent, "if (!" + fn + "(" + expr + ", out)) {");
    code.line(indent + 1, "return false;");
    code.line(indent, "}");
    return;
  }
  case FieldDescriptor::CPPTYPE_FLOAT:
  case FieldDescriptor::CPPTYPE_DOUBLE:
    code.line(indent, "return false; // floating point: no JSON rendering here");
    return;
  }
}

class JsonGenerator : public CodeGenerator {
public:
  bool Generate(const FileDescriptor* file, const std::string& parameter, GeneratorContext* context,
                std::string* error) const override {
    if (!parameter.empty()) {
      *error = "protoc-gen-vigil-json takes no parameters, got \"" + parameter + "\"";
      return false;
    }
    FileGenerator generator(file);
    const std::string stem = stripProto(file->name());
    return write(context, stem + ".json.h", generator.header()) &&
           write(context, stem + ".json.cc", generator.source());
  }

  uint64_t GetSupportedFeatures() const override { return FEATURE_PROTO3_OPTIONAL; }

private:
  static bool write(GeneratorContext* context, const std::string& name, const std::string& text) {
    std::unique_ptr<google::protobuf::io::ZeroCopyOutputStream> stream(context->Open(name));
    google::protobuf::io::CodedOutputStream coded(stream.get());
    coded.WriteString(text);
    return !coded.HadError();
  }
};

} // namespace

int main(int argc, char* argv[]) {
  JsonGenerator generator;
  return google::protobuf::compiler::PluginMain(argc, argv, &generator);
}
