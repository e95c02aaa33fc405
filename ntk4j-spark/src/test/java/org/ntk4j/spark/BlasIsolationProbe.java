package org.ntk4j.spark;

import java.util.zip.CRC32;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Run in a JVM of its own by {@link NativeBlasIsolationTest}: uses netlib's BLAS (what Spark MLlib calls) and
 * ntk4j's kernels in the order its argument names, and prints one line per step: {@code kernel CRC} (the bits
 * of a float64 kernel), {@code refused MESSAGE}, {@code netlib CLASS}.
 */
public final class BlasIsolationProbe {
    private BlasIsolationProbe() {
    }

    public static void main(String[] args) {
        for (String step : args) {
            if (step.equals("netlib")) {
                dev.ludovic.netlib.blas.BLAS b = dev.ludovic.netlib.blas.BLAS.getInstance();
                double[] x = {1, 2, 3};
                System.out.println("netlib " + b.getClass().getSimpleName() + " " + b.ddot(3, x, 1, x, 1));
            } else {
                try {
                    System.out.println("kernel " + kernelBits());
                } catch (IllegalStateException e) {
                    System.out.println("refused " + e.getMessage());
                }
            }
        }
    }

    private static long kernelBits() {
        Model m = Zoo.parse("fcn(depth=2,width=64,out=4)");
        try (Params p = m.init(11, new int[] {16}, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 1, 40, 16);
             Tensor k = EmpiricalNtk.of(m, p).method(Method.JACOBIAN_CONTRACTION).traceAxes().ntk(x, null)) {
            CRC32 crc = new CRC32();
            for (double d : k.toDoubleArray()) {
                long bits = Double.doubleToLongBits(d);
                for (int i = 0; i < 8; i++) {
                    crc.update((int) (bits >>> (8 * i)));
                }
            }
            return crc.getValue();
        }
    }
}
