#include "sluice/codec/length_field_prepender.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "sluice/channel/handler_context.hpp"
#include "sluice/codec/codec_error.hpp"
#include "wide_int.hpp"

namespace sluice {

LengthFieldPrepender::LengthFieldPrepender(std::size_t field_length, std::int64_t length_adjustment,
                                           bool includes_length_field, std::endian byte_order)
    : field_length_(field_length),
      adjustment_(length_adjustment),
      includes_length_field_(includes_length_field),
      byte_order_(byte_order) {
  if (field_length != 1 && field_length != 2 && field_length != 3 && field_length != 4 &&
      field_length != 8) {
    throw std::invalid_argument(
        fmt::format("length field must be 1, 2, 3, 4 or 8 bytes, not {}", field_length));
  }
}

void LengthFieldPrepender::write(HandlerContext& ctx, Message&& message, WriteCallback&& done) {
  if (!message.is<Buffer>() && !message.is<CompositeBuffer>()) {
    ctx.write(std::move(message), std::move(done));
    return;
  }
  const detail::WideInt length =
      static_cast<detail::WideInt>(message.bytes()) + adjustment_ +
      (includes_length_field_ ? static_cast<detail::WideInt>(field_length_) : 0);
  const detail::WideInt limit = field_length_ == 8
                                    ? static_cast<detail::WideInt>(UINT64_MAX)
                                    : (static_cast<detail::WideInt>(1) << (8 * field_length_)) - 1;
  if (length < 0 || length > limit) {
    const Error error(
        CodecErrc::corrupted_frame,
        fmt::format("length {} does not fit a {}-byte length field", length, field_length_));
    complete_write(done, error);
    return;
  }
  const auto value = static_cast<std::uint64_t>(length);
  Buffer header = Buffer::allocate(field_length_);
  switch (field_length_) {
    case 1:
      header.write_u8(static_cast<std::uint8_t>(value));
      break;
    case 2:
      header.write(static_cast<std::uint16_t>(value), byte_order_);
      break;
    case 3:
      if (byte_order_ == std::endian::big) {
        header.write_u8(static_cast<std::uint8_t>(value >> 16));
        header.write(static_cast<std::uint16_t>(value), std::endian::big);
      } else {
        header.write(static_cast<std::uint16_t>(value), std::endian::little);
        header.write_u8(static_cast<std::uint8_t>(value >> 16));
      }
      break;
    case 4:
      header.write(static_cast<std::uint32_t>(value), byte_order_);
      break;
    default:
      header.write(value, byte_order_);
      break;
  }
  ctx.write(std::move(header));
  ctx.write(std::move(message), std::move(done));
}

}  // namespace sluice
