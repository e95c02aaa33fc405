package org.ntk4j.io;

import java.math.BigInteger;
import org.ntk4j.tensor.DType;

/**
 * The one rule of every reader for integers read into floating tensors ({@code .npy}, {@code .npz}, IDX int32, CSV
 * cells written as whole numbers): an integer converts exactly or is refused, never rounded to another integer (a
 * token id into another, say). Float32 holds every integer up to 2^24 in magnitude, float64 up to 2^53, and beyond
 * that those whose significant bits (from the highest set bit to the lowest) number at most 24 or 53.
 */
final class ExactIntegers {
    private ExactIntegers() {
    }

    /**
     * The significant bits of an integer's magnitude, read as an unsigned 64-bit number: from the highest set bit
     * to the lowest (0 for 0).
     */
    static int significantBits(long unsignedMagnitude) {
        return unsignedMagnitude == 0 ? 0
                : 64 - Long.numberOfLeadingZeros(unsignedMagnitude) - Long.numberOfTrailingZeros(unsignedMagnitude);
    }

    /** As {@link #significantBits(long)}, for an integer of any size (a CSV cell of many digits). */
    static int significantBits(BigInteger value) {
        BigInteger magnitude = value.abs();
        return magnitude.signum() == 0 ? 0 : magnitude.bitLength() - magnitude.getLowestSetBit();
    }

    /**
     * Refuses an integer of {@code significantBits} that {@code target} cannot hold exactly.
     *
     * @param significantBits the integer's significant bits ({@link #significantBits(long)})
     * @param value the integer as the message shows it
     * @param target the tensor type it is read into
     * @param where what starts the message: the file and the element, row or column
     * @throws IllegalArgumentException naming {@code where}, the integer and the type, when converting would round
     */
    static void require(int significantBits, String value, DType target, String where) {
        int holds = target == DType.F32 ? 24 : 53;
        if (significantBits > holds) {
            throw new IllegalArgumentException(where + " is the integer " + value + ", which "
                    + (target == DType.F32 ? "float32" : "float64") + " cannot hold exactly (it holds every integer "
                    + "up to 2^" + holds + "); converting would round it" + (target == DType.F32
                    ? "; read the file as float64 (--dtype f64, DType.F64)" : ""));
        }
    }
}
