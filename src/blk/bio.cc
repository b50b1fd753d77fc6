#include "blk/bio.h"

namespace nvmpath::blk {

const char* OpName(Op op) {
  switch (op) {
    case Op::kRead: return "read";
    case Op::kWrite: return "write";
    case Op::kFlush: return "flush";
    case Op::kWriteZeroes: return "write-zeroes";
    case Op::kDeallocate: return "deallocate";
  }
  return "?";
}

}  // namespace nvmpath::blk
