//===- LowerElementwise.cpp - elementwise Kiln ops -> linalg.generic
//-------===//
//
// One pattern lowers every op with the Elementwise trait to a linalg.generic
// with broadcasting maps; the scalar computation of each op is below. Keeping
// them all as generics lets linalg's elementwise fusion merge chains.
//
//===----------------------------------------------------------------------===//

#include "passes/KilnToLinalg/LoweringUtils.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::kiln;

namespace mlir::kiln::lowering {

namespace {
bool isFloat(Type t) { return isa<FloatType>(t); }

/// Integer comparisons take the signed predicate; `isUnsigned` switches it
/// to the unsigned one.
Value cmp(OpBuilder &b, Location loc, arith::CmpFPredicate fp,
          arith::CmpIPredicate ip, Value x, Value y, bool isUnsigned = false) {
  if (isFloat(x.getType()))
    return b.create<arith::CmpFOp>(loc, fp, x, y);
  if (isUnsigned) {
    switch (ip) {
    case arith::CmpIPredicate::slt:
      ip = arith::CmpIPredicate::ult;
      break;
    case arith::CmpIPredicate::sle:
      ip = arith::CmpIPredicate::ule;
      break;
    case arith::CmpIPredicate::sgt:
      ip = arith::CmpIPredicate::ugt;
      break;
    case arith::CmpIPredicate::sge:
      ip = arith::CmpIPredicate::uge;
      break;
    default:
      break;
    }
  }
  return b.create<arith::CmpIOp>(loc, ip, x, y);
}

Value maxOf(OpBuilder &b, Location loc, Value x, Value y,
            bool isUnsigned = false) {
  if (isFloat(x.getType()))
    return b.create<arith::MaximumFOp>(loc, x, y);
  if (isUnsigned)
    return b.create<arith::MaxUIOp>(loc, x, y);
  return b.create<arith::MaxSIOp>(loc, x, y);
}

Value minOf(OpBuilder &b, Location loc, Value x, Value y,
            bool isUnsigned = false) {
  if (isFloat(x.getType()))
    return b.create<arith::MinimumFOp>(loc, x, y);
  if (isUnsigned)
    return b.create<arith::MinUIOp>(loc, x, y);
  return b.create<arith::MinSIOp>(loc, x, y);
}

/// ONNX Cast of one scalar; the flags say whether the integer types are
/// unsigned (the values themselves are signless).
Value castScalar(OpBuilder &b, Location loc, Value x, Type to,
                 bool fromUnsigned, bool toUnsigned) {
  Type from = x.getType();
  if (from == to)
    return x;
  if (to.isInteger(1)) {
    Value zero = scalarConstant(b, loc, from, 0);
    return isFloat(from)
               ? b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::UNE, x,
                                         zero)
                     .getResult()
               : b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::ne, x, zero)
                     .getResult();
  }
  bool fromBool = from.isInteger(1) || fromUnsigned;
  if (isFloat(from) && isFloat(to)) {
    if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
      return b.create<arith::ExtFOp>(loc, to, x);
    // f64 -> f16/bf16 goes through f32: targets have no direct instruction
    // and the library routine would be an import.
    if (from.getIntOrFloatBitWidth() > 32 && to.getIntOrFloatBitWidth() < 32)
      x = b.create<arith::TruncFOp>(loc, b.getF32Type(), x);
    return b.create<arith::TruncFOp>(loc, to, x);
  }
  if (isFloat(from))
    return toUnsigned ? b.create<arith::FPToUIOp>(loc, to, x).getResult()
                      : b.create<arith::FPToSIOp>(loc, to, x).getResult();
  if (isFloat(to))
    return fromBool ? b.create<arith::UIToFPOp>(loc, to, x).getResult()
                    : b.create<arith::SIToFPOp>(loc, to, x).getResult();
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return fromBool ? b.create<arith::ExtUIOp>(loc, to, x).getResult()
                    : b.create<arith::ExtSIOp>(loc, to, x).getResult();
  return b.create<arith::TruncIOp>(loc, to, x);
}
} // namespace

FailureOr<Value> buildElementwiseScalar(Operation *op, OpBuilder &b,
                                        Location loc, ValueRange args,
                                        Type resultElement) {
  Value x = args.empty() ? Value() : args[0];
  Type t = x ? x.getType() : resultElement;
  auto c = [&](double v) { return scalarConstant(b, loc, t, v); };
  auto fail = [&](StringRef what) -> FailureOr<Value> {
    op->emitError() << op->getName() << ": " << what
                    << " is not supported for element type " << t;
    return failure();
  };
  bool fp = isFloat(t);
  // Operands keep their Kiln (possibly unsigned) types on `op`.
  bool uns =
      op->getNumOperands() > 0 &&
      getElementTypeOrSelf(op->getOperand(0).getType()).isUnsignedInteger();
  auto exp = [&](Value v) { return b.create<math::ExpOp>(loc, v); };
  using P = arith::CmpFPredicate;
  using IP = arith::CmpIPredicate;

  return TypeSwitch<Operation *, FailureOr<Value>>(op)
      // Arithmetic.
      .Case([&](AddOp) -> FailureOr<Value> {
        return fp ? b.create<arith::AddFOp>(loc, x, args[1]).getResult()
                  : b.create<arith::AddIOp>(loc, x, args[1]).getResult();
      })
      .Case([&](SubOp) -> FailureOr<Value> {
        return fp ? b.create<arith::SubFOp>(loc, x, args[1]).getResult()
                  : b.create<arith::SubIOp>(loc, x, args[1]).getResult();
      })
      .Case([&](MulOp) -> FailureOr<Value> {
        return fp ? b.create<arith::MulFOp>(loc, x, args[1]).getResult()
                  : b.create<arith::MulIOp>(loc, x, args[1]).getResult();
      })
      .Case([&](DivOp) -> FailureOr<Value> {
        if (fp)
          return b.create<arith::DivFOp>(loc, x, args[1]).getResult();
        return uns ? b.create<arith::DivUIOp>(loc, x, args[1]).getResult()
                   : b.create<arith::DivSIOp>(loc, x, args[1]).getResult();
      })
      .Case([&](PowOp) -> FailureOr<Value> {
        if (fp)
          return b.create<math::PowFOp>(loc, x, args[1]).getResult();
        // Integer pow through f64: exact while the result fits 53 bits.
        Type f64 = b.getF64Type();
        Value base = castScalar(b, loc, x, f64, uns, false);
        Value power = castScalar(b, loc, args[1], f64, uns, false);
        return castScalar(b, loc, b.create<math::PowFOp>(loc, base, power), t,
                          false, uns);
      })
      .Case([&](MinOp) -> FailureOr<Value> {
        return minOf(b, loc, x, args[1], uns);
      })
      .Case([&](MaxOp) -> FailureOr<Value> {
        return maxOf(b, loc, x, args[1], uns);
      })
      .Case([&](BitShiftOp shift) -> FailureOr<Value> {
        if (shift.getDirection() == "LEFT")
          return b.create<arith::ShLIOp>(loc, x, args[1]).getResult();
        return b.create<arith::ShRUIOp>(loc, x, args[1]).getResult();
      })
      .Case([&](ModOp mod) -> FailureOr<Value> {
        if (fp)
          return b.create<arith::RemFOp>(loc, x, args[1]).getResult();
        if (uns)
          return b.create<arith::RemUIOp>(loc, x, args[1]).getResult();
        Value r = b.create<arith::RemSIOp>(loc, x, args[1]);
        if (mod.getFmod())
          return r;
        // Python semantics: the remainder takes the divisor's sign.
        Value zero = c(0);
        Value rNeg = b.create<arith::CmpIOp>(loc, IP::slt, r, zero);
        Value dNeg = b.create<arith::CmpIOp>(loc, IP::slt, args[1], zero);
        Value rNonZero = b.create<arith::CmpIOp>(loc, IP::ne, r, zero);
        Value signsDiffer = b.create<arith::XOrIOp>(loc, rNeg, dNeg);
        Value adjust = b.create<arith::AndIOp>(loc, rNonZero, signsDiffer);
        Value adjusted = b.create<arith::AddIOp>(loc, r, args[1]);
        return b.create<arith::SelectOp>(loc, adjust, adjusted, r).getResult();
      })
      .Case([&](PReluOp) -> FailureOr<Value> {
        Value scaled =
            fp ? b.create<arith::MulFOp>(loc, x, args[1]).getResult()
               : b.create<arith::MulIOp>(loc, x, args[1]).getResult();
        Value negative = cmp(b, loc, P::OLT, IP::slt, x, c(0));
        return b.create<arith::SelectOp>(loc, negative, scaled, x).getResult();
      })
      // Logic and comparison.
      .Case([&](AndOp) -> FailureOr<Value> {
        return b.create<arith::AndIOp>(loc, x, args[1]).getResult();
      })
      .Case([&](OrOp) -> FailureOr<Value> {
        return b.create<arith::OrIOp>(loc, x, args[1]).getResult();
      })
      .Case([&](XorOp) -> FailureOr<Value> {
        return b.create<arith::XOrIOp>(loc, x, args[1]).getResult();
      })
      .Case([&](NotOp) -> FailureOr<Value> {
        return b.create<arith::XOrIOp>(loc, x, c(1)).getResult();
      })
      .Case([&](EqualOp) -> FailureOr<Value> {
        return cmp(b, loc, P::OEQ, IP::eq, x, args[1]);
      })
      .Case([&](LessOp) -> FailureOr<Value> {
        return cmp(b, loc, P::OLT, IP::slt, x, args[1], uns);
      })
      .Case([&](LessEqualOp) -> FailureOr<Value> {
        return cmp(b, loc, P::OLE, IP::sle, x, args[1], uns);
      })
      .Case([&](GreaterOp) -> FailureOr<Value> {
        return cmp(b, loc, P::OGT, IP::sgt, x, args[1], uns);
      })
      .Case([&](GreaterEqualOp) -> FailureOr<Value> {
        return cmp(b, loc, P::OGE, IP::sge, x, args[1], uns);
      })
      .Case([&](WhereOp) -> FailureOr<Value> {
        return b.create<arith::SelectOp>(loc, x, args[1], args[2]).getResult();
      })
      // Unary math.
      .Case([&](NegOp) -> FailureOr<Value> {
        return fp ? b.create<arith::NegFOp>(loc, x).getResult()
                  : b.create<arith::SubIOp>(loc, c(0), x).getResult();
      })
      .Case([&](AbsOp) -> FailureOr<Value> {
        if (uns)
          return x;
        return fp ? b.create<math::AbsFOp>(loc, x).getResult()
                  : b.create<math::AbsIOp>(loc, x).getResult();
      })
      .Case([&](SignOp) -> FailureOr<Value> {
        Value positive = cmp(b, loc, P::OGT, IP::sgt, x, c(0), uns);
        Value negative = cmp(b, loc, P::OLT, IP::slt, x, c(0), uns);
        Value inner = b.create<arith::SelectOp>(loc, negative, c(-1), c(0));
        return b.create<arith::SelectOp>(loc, positive, c(1), inner)
            .getResult();
      })
      .Case([&](IdentityOp) -> FailureOr<Value> { return x; })
      .Case([&](ExpandOp) -> FailureOr<Value> { return x; })
      .Case([&](CastOp cast) -> FailureOr<Value> {
        return castScalar(b, loc, x, resultElement, uns,
                          cast.getType().getElementType().isUnsignedInteger());
      })
      .Case([&](ReluOp) -> FailureOr<Value> {
        return maxOf(b, loc, x, c(0), uns);
      })
      .Case([&](ClipOp clip) -> FailureOr<Value> {
        Value v = x;
        if (auto lo = clip.getMin())
          v = maxOf(b, loc, v, c(lo->convertToDouble()), uns);
        if (auto hi = clip.getMax())
          v = minOf(b, loc, v, c(hi->convertToDouble()), uns);
        return v;
      })
      .Default([&](Operation *) -> FailureOr<Value> {
        if (!fp)
          return fail("this op");
        return TypeSwitch<Operation *, FailureOr<Value>>(op)
            .Case([&](SqrtOp) {
              return b.create<math::SqrtOp>(loc, x).getResult();
            })
            .Case([&](ExpOp) { return exp(x).getResult(); })
            .Case([&](LogOp) {
              return b.create<math::LogOp>(loc, x).getResult();
            })
            .Case([&](TanhOp) {
              return b.create<math::TanhOp>(loc, x).getResult();
            })
            .Case([&](ErfOp) {
              return b.create<math::ErfOp>(loc, x).getResult();
            })
            .Case([&](GeluOp) {
              Value e = b.create<math::ErfOp>(
                  loc, b.create<arith::MulFOp>(loc, x, c(M_SQRT1_2)));
              Value half = b.create<arith::MulFOp>(loc, x, c(0.5));
              return b
                  .create<arith::MulFOp>(loc, half,
                                         b.create<arith::AddFOp>(loc, e, c(1)))
                  .getResult();
            })
            .Case([&](SinOp) {
              return b.create<math::SinOp>(loc, x).getResult();
            })
            .Case([&](CosOp) {
              return b.create<math::CosOp>(loc, x).getResult();
            })
            .Case([&](TanOp) {
              return b.create<math::TanOp>(loc, x).getResult();
            })
            .Case([&](AsinOp) {
              // atan2(x, sqrt(1 - x^2)): MLIR's direct asin approximation
              // loses accuracy towards |x| = 1.
              Value cosine = b.create<math::SqrtOp>(
                  loc, b.create<arith::SubFOp>(
                           loc, c(1), b.create<arith::MulFOp>(loc, x, x)));
              return b.create<math::Atan2Op>(loc, x, cosine).getResult();
            })
            .Case([&](AcosOp) {
              return b.create<math::AcosOp>(loc, x).getResult();
            })
            .Case([&](AtanOp) {
              return b.create<math::AtanOp>(loc, x).getResult();
            })
            .Case([&](SinhOp) {
              return b.create<math::SinhOp>(loc, x).getResult();
            })
            .Case([&](CoshOp) {
              return b.create<math::CoshOp>(loc, x).getResult();
            })
            .Case([&](AsinhOp) {
              return b.create<math::AsinhOp>(loc, x).getResult();
            })
            .Case([&](AcoshOp) {
              return b.create<math::AcoshOp>(loc, x).getResult();
            })
            .Case([&](AtanhOp) {
              return b.create<math::AtanhOp>(loc, x).getResult();
            })
            .Case([&](FloorOp) {
              return b.create<math::FloorOp>(loc, x).getResult();
            })
            .Case([&](CeilOp) {
              return b.create<math::CeilOp>(loc, x).getResult();
            })
            .Case([&](RoundOp) {
              return b.create<math::RoundEvenOp>(loc, x).getResult();
            })
            .Case([&](ReciprocalOp) {
              return b.create<arith::DivFOp>(loc, c(1), x).getResult();
            })
            .Case([&](SigmoidOp) {
              Value e = exp(b.create<arith::NegFOp>(loc, x));
              Value d = b.create<arith::AddFOp>(loc, c(1), e);
              return b.create<arith::DivFOp>(loc, c(1), d).getResult();
            })
            .Case([&](SoftplusOp) {
              Value e = b.create<arith::AddFOp>(loc, exp(x), c(1));
              return b.create<math::LogOp>(loc, e).getResult();
            })
            .Case([&](SoftsignOp) {
              Value d = b.create<arith::AddFOp>(loc, c(1),
                                                b.create<math::AbsFOp>(loc, x));
              return b.create<arith::DivFOp>(loc, x, d).getResult();
            })
            .Case([&](HardSwishOp) {
              Value s = b.create<arith::AddFOp>(
                  loc, b.create<arith::MulFOp>(loc, x, c(1.0 / 6.0)), c(0.5));
              s = minOf(b, loc, maxOf(b, loc, s, c(0)), c(1));
              return b.create<arith::MulFOp>(loc, x, s).getResult();
            })
            .Case([&](HardSigmoidOp op) {
              Value s = b.create<arith::AddFOp>(
                  loc,
                  b.create<arith::MulFOp>(loc, x,
                                          c(op.getAlpha().convertToDouble())),
                  c(op.getBeta().convertToDouble()));
              return minOf(b, loc, maxOf(b, loc, s, c(0)), c(1));
            })
            .Case([&](LeakyReluOp op) {
              Value scaled = b.create<arith::MulFOp>(
                  loc, x, c(op.getAlpha().convertToDouble()));
              Value negative = cmp(b, loc, P::OLT, IP::slt, x, c(0));
              return b.create<arith::SelectOp>(loc, negative, scaled, x)
                  .getResult();
            })
            .Case([&](EluOp op) {
              Value em1 = b.create<arith::SubFOp>(loc, exp(x), c(1));
              Value scaled = b.create<arith::MulFOp>(
                  loc, em1, c(op.getAlpha().convertToDouble()));
              Value negative = cmp(b, loc, P::OLT, IP::slt, x, c(0));
              return b.create<arith::SelectOp>(loc, negative, scaled, x)
                  .getResult();
            })
            .Case([&](CeluOp op) {
              double alpha = op.getAlpha().convertToDouble();
              Value e = exp(b.create<arith::DivFOp>(loc, x, c(alpha)));
              Value neg = b.create<arith::MulFOp>(
                  loc, b.create<arith::SubFOp>(loc, e, c(1)), c(alpha));
              return b
                  .create<arith::AddFOp>(loc, maxOf(b, loc, x, c(0)),
                                         minOf(b, loc, neg, c(0)))
                  .getResult();
            })
            .Case([&](SeluOp op) {
              double alpha = op.getAlpha().convertToDouble();
              double gamma = op.getGamma().convertToDouble();
              Value neg = b.create<arith::SubFOp>(
                  loc, b.create<arith::MulFOp>(loc, exp(x), c(alpha)),
                  c(alpha));
              Value positive = cmp(b, loc, P::OGT, IP::sgt, x, c(0));
              Value v = b.create<arith::SelectOp>(loc, positive, x, neg);
              return b.create<arith::MulFOp>(loc, v, c(gamma)).getResult();
            })
            .Case([&](ThresholdedReluOp op) {
              Value above = cmp(b, loc, P::OGT, IP::sgt, x,
                                c(op.getAlpha().convertToDouble()));
              return b.create<arith::SelectOp>(loc, above, x, c(0)).getResult();
            })
            .Default([&](Operation *) -> FailureOr<Value> {
              op->emitError() << op->getName() << " has no scalar lowering";
              return failure();
            });
      });
}

namespace {
/// Every op with the Elementwise trait.
struct ElementwiseLowering : public ConversionPattern {
  ElementwiseLowering(MLIRContext *context)
      : ConversionPattern(Pattern::MatchTraitOpTypeTag(),
                          TypeID::get<OpTrait::Elementwise>(), 1, context) {}

  LogicalResult
  matchAndRewrite(Operation *op, ArrayRef<Value> operands,
                  ConversionPatternRewriter &rewriter) const override {
    auto resultType =
        signless(cast<RankedTensorType>(op->getResult(0).getType()));
    bool failedScalar = false;
    Value result = lowering::elementwise(
        rewriter, op->getLoc(), resultType, operands,
        [&](OpBuilder &b, Location loc, ValueRange args) -> Value {
          auto v = buildElementwiseScalar(op, b, loc, args,
                                          resultType.getElementType());
          if (failed(v)) {
            failedScalar = true;
            return lowering::scalarConstant(b, loc, resultType.getElementType(),
                                            0);
          }
          return *v;
        });
    if (failedScalar)
      return failure();
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct ConstantLowering : public OpConversionPattern<ConstantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConstantOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(
        op, cast<TypedAttr>(op.getValue()));
    return success();
  }
};
} // namespace

void populateElementwisePatterns(RewritePatternSet &patterns) {
  patterns.add<ElementwiseLowering, ConstantLowering>(patterns.getContext());
}

} // namespace mlir::kiln::lowering
