#include "sluice/channel/message.hpp"

namespace sluice {

void Message::fail_type(std::string_view wanted) const {
  throw MessageTypeError("Message holds a " + std::string(type_name()) + ", not a " +
                         std::string(wanted));
}

}  // namespace sluice
