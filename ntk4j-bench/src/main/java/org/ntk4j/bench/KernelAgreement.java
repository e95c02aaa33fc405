package org.ntk4j.bench;

import java.util.Arrays;
import org.ntk4j.tensor.Tensor;

/**
 * Whether two kernels computed by different methods or programs are the same kernel, before any time ratio
 * between them is reported. float32 kernels of the same network agree to about 1e-6 relative (summation order);
 * the tolerance, 1e-4 relative Frobenius error, leaves room for that and none for a wrong kernel (a wrong
 * scale, a transposed block or a missing layer is off by far more).
 */
final class KernelAgreement {
    /** Largest relative Frobenius error ‖a − b‖ / ‖b‖ accepted between two float32 kernels. */
    static final double TOLERANCE = 1e-4;

    private KernelAgreement() {
    }

    /** ‖a − b‖_F / ‖b‖_F; infinite when the shapes differ. */
    static double relativeError(Tensor a, Tensor b) {
        if (!Arrays.equals(a.shape(), b.shape())) {
            return Double.POSITIVE_INFINITY;
        }
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.size(); i++) {
            double d = a.getFlat(i) - b.getFlat(i);
            num += d * d;
            den += b.getFlat(i) * b.getFlat(i);
        }
        return Math.sqrt(num / Math.max(den, Double.MIN_NORMAL));
    }

    static boolean agrees(double relativeError) {
        return relativeError <= TOLERANCE;
    }
}
