// NumPy .npy encoding and decoding; see npy_format.h for the layout.
#include "models/metrics/npy_format.h"

#include <cctype>
#include <cstring>
#include <limits>

#include "engine/error.h"

namespace kite::metrics {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicSize = 6;
constexpr std::size_t kAlignment = 64;  // numpy >= 1.14 aligns the data to 64 bytes

// Element size in bytes for the supported descr strings; 0 if unsupported.
std::size_t item_size(const std::string& descr) {
  if (descr == "<f8" || descr == ">f8") return 8;
  if (descr == "<f4" || descr == ">f4") return 4;
  if (descr == "|u1" || descr == "<u1" || descr == ">u1") return 1;
  if (descr.size() > 2 && descr[0] == '<' && descr[1] == 'U') {
    std::size_t chars = 0;
    for (std::size_t i = 2; i < descr.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(descr[i]))) return 0;
      chars = chars * 10 + static_cast<std::size_t>(descr[i] - '0');
      if (chars > (std::size_t{1} << 30)) return 0;
    }
    return 4 * chars;
  }
  return 0;
}

// A tiny parser for the header's Python dict literal: string keys; values are strings,
// True/False, or tuples of integers.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& context)
      : text_(text), context_(context) {}

  NpyArray parse() {
    NpyArray array;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        array.descr = string_literal();
        have_descr = true;
      } else if (key == "fortran_order") {
        array.fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        array.shape = tuple();
        have_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') ++pos_;
    }
    ++pos_;  // '}'
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the header dict");
    if (!have_descr || !have_order || !have_shape) {
      fail("header lacks one of 'descr', 'fortran_order', 'shape'");
    }
    return array;
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    KITE_FAIL(context_ << ": bad .npy header (" << problem << ") in \"" << text_ << "\"");
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string string_literal() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const std::size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string value = text_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return value;
  }
  bool boolean() {
    skip_space();
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::vector<std::size_t> tuple() {
    std::vector<std::size_t> values;
    expect('(');
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a dimension");
      std::size_t value = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (value > (std::numeric_limits<std::size_t>::max() - 9) / 10) fail("dimension too large");
        value = value * 10 + static_cast<std::size_t>(text_[pos_++] - '0');
      }
      if (peek() == 'L') ++pos_;  // Python 2 long suffix, still found in old files
      values.push_back(value);
      skip_space();
      if (peek() == ',')
        ++pos_;
      else if (peek() != ')')
        fail("expected ',' or ')' in the shape");
    }
    ++pos_;  // ')'
    return values;
  }

  const std::string& text_;
  const std::string& context_;
  std::size_t pos_ = 0;
};

std::string shape_literal(const std::vector<std::size_t>& shape) {
  if (shape.empty()) return "()";
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::vector<std::uint32_t> decode_utf8(const std::string& text) {
  std::vector<std::uint32_t> code_points;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if (lead < 0x80) {
      cp = lead;
    } else if ((lead & 0xE0) == 0xC0) {
      extra = 1, cp = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      extra = 2, cp = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      extra = 3, cp = lead & 0x07;
    } else {
      KITE_FAIL("npy_from_text: invalid UTF-8 lead byte at offset " << i);
    }
    KITE_CHECK(i + extra < text.size(), "npy_from_text: truncated UTF-8 sequence at offset " << i);
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      KITE_CHECK((next & 0xC0) == 0x80, "npy_from_text: invalid UTF-8 at offset " << i + k);
      cp = (cp << 6) | (next & 0x3F);
    }
    code_points.push_back(cp);
    i += extra + 1;
  }
  return code_points;
}

std::uint32_t read_u32le(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

}  // namespace

std::size_t NpyArray::element_count() const {
  std::size_t count = 1;
  for (std::size_t dim : shape) count *= dim;
  return count;
}

std::vector<std::uint8_t> encode_npy(const NpyArray& array) {
  KITE_CHECK(item_size(array.descr) > 0, "encode_npy: unsupported dtype '" << array.descr << "'");
  KITE_CHECK(array.data.size() == array.element_count() * item_size(array.descr),
             "encode_npy: " << array.data.size() << " data bytes for shape "
                            << shape_literal(array.shape) << " of '" << array.descr << "'");
  std::string header = "{'descr': '" + array.descr +
                       "', 'fortran_order': " + (array.fortran_order ? "True" : "False") +
                       ", 'shape': " + shape_literal(array.shape) + ", }";
  // Pad with spaces so that magic + version + length + header + '\n' is a multiple of 64.
  const std::size_t prefix = kMagicSize + 2 + 2;
  const std::size_t unpadded = prefix + header.size() + 1;
  header.append((kAlignment - unpadded % kAlignment) % kAlignment, ' ');
  header += '\n';
  KITE_CHECK(header.size() <= 0xFFFF, "encode_npy: header too long for format 1.0");

  std::vector<std::uint8_t> bytes(kMagic, kMagic + kMagicSize);
  bytes.push_back(1);  // format version 1.0
  bytes.push_back(0);
  bytes.push_back(static_cast<std::uint8_t>(header.size() & 0xFF));
  bytes.push_back(static_cast<std::uint8_t>(header.size() >> 8));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), array.data.begin(), array.data.end());
  return bytes;
}

NpyArray decode_npy(const std::vector<std::uint8_t>& bytes, const std::string& context) {
  KITE_CHECK(
      bytes.size() >= kMagicSize + 4 && std::memcmp(bytes.data(), kMagic, kMagicSize) == 0,
      context << ": not a .npy array (bad magic or truncated, " << bytes.size() << " bytes)");
  const int major = bytes[kMagicSize];
  std::size_t header_length = 0;
  std::size_t header_start = 0;
  if (major == 1) {
    header_length = bytes[kMagicSize + 2] | static_cast<std::size_t>(bytes[kMagicSize + 3]) << 8;
    header_start = kMagicSize + 4;
  } else if (major == 2 || major == 3) {
    KITE_CHECK(bytes.size() >= kMagicSize + 6, context << ": truncated .npy header");
    header_length = read_u32le(bytes.data() + kMagicSize + 2);
    header_start = kMagicSize + 6;
  } else {
    KITE_FAIL(context << ": unsupported .npy format version " << major << "."
                      << int(bytes[kMagicSize + 1]));
  }
  KITE_CHECK(header_start + header_length <= bytes.size(),
             context << ": truncated .npy header (" << header_length << " header bytes announced, "
                     << bytes.size() - header_start << " present)");
  const std::string header(bytes.begin() + header_start,
                           bytes.begin() + header_start + header_length);
  NpyArray array = HeaderParser(header, context).parse();

  const std::size_t item = item_size(array.descr);
  KITE_CHECK(item > 0, context << ": unsupported dtype '" << array.descr
                               << "' (supported: <f8, >f8, <f4, >f4, |u1, <U n)");
  std::size_t count = 1;
  for (std::size_t dim : array.shape) {
    KITE_CHECK(dim == 0 || count <= std::numeric_limits<std::size_t>::max() / dim / item,
               context << ": shape " << shape_literal(array.shape) << " is too large");
    count *= dim;
  }
  const std::size_t expected = count * item;
  const std::size_t present = bytes.size() - header_start - header_length;
  KITE_CHECK(present == expected, context << ": array data has " << present << " bytes, but shape "
                                          << shape_literal(array.shape) << " of '" << array.descr
                                          << "' needs " << expected
                                          << (present < expected ? " (truncated)" : ""));
  array.data.assign(bytes.begin() + header_start + header_length, bytes.end());
  return array;
}

NpyArray npy_from_float64(const double* values, std::vector<std::size_t> shape) {
  NpyArray array;
  array.descr = "<f8";
  array.shape = std::move(shape);
  const std::size_t count = array.element_count();
  array.data.resize(count * 8);
  for (std::size_t i = 0; i < count; ++i) {
    std::uint64_t bits;
    std::memcpy(&bits, &values[i], 8);
    for (int b = 0; b < 8; ++b) array.data[i * 8 + b] = static_cast<std::uint8_t>(bits >> (8 * b));
  }
  return array;
}

std::vector<double> npy_to_float64(const NpyArray& array, const std::string& context) {
  const std::string& t = array.descr;
  const bool is_double = t == "<f8" || t == ">f8";
  const bool is_float = t == "<f4" || t == ">f4";
  KITE_CHECK(is_double || is_float,
             context << ": expected a float64 or float32 array, got dtype '" << t << "'");
  const bool big_endian = t[0] == '>';
  const std::size_t item = is_double ? 8 : 4;
  const std::size_t count = array.element_count();
  KITE_CHECK(array.data.size() == count * item, context << ": array data size mismatch");

  // Stored element s -> C-order position: for Fortran order the first index varies fastest.
  std::vector<std::size_t> c_strides(array.shape.size(), 1);
  for (std::size_t k = array.shape.size(); k-- > 1;)
    c_strides[k - 1] = c_strides[k] * array.shape[k];
  std::vector<std::size_t> index(array.shape.size(), 0);
  std::vector<double> values(count);
  for (std::size_t s = 0; s < count; ++s) {
    const std::uint8_t* p = array.data.data() + s * item;
    std::uint64_t bits = 0;
    for (std::size_t b = 0; b < item; ++b) {
      const std::size_t source = big_endian ? item - 1 - b : b;
      bits |= static_cast<std::uint64_t>(p[source]) << (8 * b);
    }
    double value;
    if (is_double) {
      std::memcpy(&value, &bits, 8);
    } else {
      const auto narrow = static_cast<std::uint32_t>(bits);
      float f;
      std::memcpy(&f, &narrow, 4);
      value = f;
    }
    std::size_t target = s;
    if (array.fortran_order && array.shape.size() > 1) {
      target = 0;
      for (std::size_t k = 0; k < index.size(); ++k) target += index[k] * c_strides[k];
      for (std::size_t k = 0; k < index.size(); ++k) {  // advance, first index fastest
        if (++index[k] < array.shape[k]) break;
        index[k] = 0;
      }
    }
    values[target] = value;
  }
  return values;
}

NpyArray npy_from_text(const std::string& text) {
  std::vector<std::uint32_t> code_points = decode_utf8(text);
  if (code_points.empty()) code_points.push_back(0);  // numpy's '' is a '<U1' holding NUL
  NpyArray array;
  array.descr = "<U" + std::to_string(code_points.size());
  array.data.resize(4 * code_points.size());
  for (std::size_t i = 0; i < code_points.size(); ++i)
    for (int b = 0; b < 4; ++b)
      array.data[4 * i + b] = static_cast<std::uint8_t>(code_points[i] >> (8 * b));
  return array;
}

std::string npy_to_text(const NpyArray& array, const std::string& context) {
  if (array.descr == "|u1" || array.descr == "<u1" || array.descr == ">u1") {
    return std::string(array.data.begin(), array.data.end());
  }
  KITE_CHECK(
      array.descr.size() > 2 && array.descr.compare(0, 2, "<U") == 0,
      context << ": expected a unicode ('<U') or uint8 array, got dtype '" << array.descr << "'");
  KITE_CHECK(array.shape.empty(),
             context << ": expected a 0-d text array, got shape " << shape_literal(array.shape));
  std::size_t length = array.data.size() / 4;
  while (length > 0 && read_u32le(array.data.data() + 4 * (length - 1)) == 0) --length;
  std::string text;
  for (std::size_t i = 0; i < length; ++i) {
    const std::uint32_t cp = read_u32le(array.data.data() + 4 * i);
    KITE_CHECK(cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF),
               context << ": invalid code point " << cp << " in text array");
    append_utf8(text, cp);
  }
  return text;
}

}  // namespace kite::metrics
