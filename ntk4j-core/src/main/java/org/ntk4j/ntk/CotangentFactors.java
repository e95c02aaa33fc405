package org.ntk4j.ntk;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.ntk4j.cpu.Elementwise;
import org.ntk4j.graph.Equation;
import org.ntk4j.graph.Var;
import org.ntk4j.primitive.BroadcastInDim;
import org.ntk4j.primitive.Div;
import org.ntk4j.primitive.Mul;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * A stacked cotangent δ [K, N, positions..., features...] that the per-example pass computes as a product of
 * values each constant over the outputs k or over the positions r, so that D[k, n, r, f] = M[n, r, f] · G[k, n, f].
 * This is the cotangent of the last convolution before a global average pool: the pool's VJP broadcasts g[k, n, f]
 * over the positions, the activation's multiplies by its mask m[n, r, f] (the same for every output). Found in the
 * pass graph's equations: δ's producer and, recursively, its operands through multiplications and divisions (NumPy
 * broadcasting; a batch norm divides by its deviation) and broadcast_in_dim; every other value is a factor as it
 * is (or its reciprocal, below a division), and each must vary over the outputs or over the positions, not both.
 *
 * <p>Structured derivatives then contract such a convolution's filter without its per-example rows or the
 * cotangents' Gram ({@link ContractionOrder#FACTORED}): J[n, k, (f, c)] = G[k, n, f] · P[n, f, c] with P[n, f, c] =
 * Σ_r M[n, r, f] A[n, r, c], so the block is Θ[n1, k1, n2, k2] = Σ_f G1[k1, n1, f] G2[k2, n2, f] Q[f, n1, n2], Q =
 * Σ_c P1 P2 — 2·N·R·F·C + 2·F·N1·N2·C + 2·N1·N2·K²·F FLOPs against the Gram order's 2·N1·N2·R²·(C + K²·F).
 */
final class CotangentFactors {
    /** Factors beyond which a product is not taken apart (a product tree this large is not a pool's VJP). */
    static final int MAX_FACTORS = 16;

    /**
     * A value of the pass graph seen in δ's axes: {@code shape} has δ's rank, the value's own sizes on the axes it
     * varies along and 1 elsewhere, in the value's own axis order (a reshape of it; no axis moves); the product
     * divides by it when {@code divides}.
     */
    record Factor(Var value, int[] shape, boolean divides) {
    }

    /** The factors constant over the outputs (axis 0 of δ): their product is M. */
    final List<Factor> examples;
    /** The other factors, constant over the positions: their product is G. */
    final List<Factor> outputs;
    /** δ's shape [K, N, positions..., features...]. */
    final int[] delta;
    /** The first of δ's feature axes; [2, featuresFrom) are the positions. */
    final int featuresFrom;

    private CotangentFactors(List<Factor> examples, List<Factor> outputs, int[] delta, int featuresFrom) {
        this.examples = List.copyOf(examples);
        this.outputs = List.copyOf(outputs);
        this.delta = delta;
        this.featuresFrom = featuresFrom;
    }

    /**
     * The factors of the stacked cotangent {@code delta} of a pass graph, or null when it does not factor.
     *
     * @param producer each equation of the pass graph by its output
     * @param delta the stacked cotangent [K, N, positions..., features...]
     * @param features F, the product of δ's trailing (feature) axes; at least one position axis lies before them
     */
    static CotangentFactors of(Map<Var, Equation> producer, Var delta, long features) {
        int rank = delta.rank();
        if (delta.dim(0) < 2) {
            // one output: every cotangent factors trivially, and its factored order would form the rows (G ⊗ P) and
            // contract them as the row order does, with Q's products besides — never the cheapest
            return null;
        }
        int from = rank;
        long size = 1;
        while (from > 2 && size < features) {
            size *= delta.dim(--from);
        }
        if (size != features || from <= 2) {
            return null;
        }
        List<Factor> leaves = new ArrayList<>();
        if (!collect(producer, delta, Shapes.iota(rank), rank, false, leaves)) {
            return null;
        }
        List<Factor> examples = new ArrayList<>();
        List<Factor> outputs = new ArrayList<>();
        for (Factor leaf : leaves) {
            boolean overOutputs = leaf.shape[0] != 1;
            boolean overPositions = false;
            for (int a = 2; a < from; a++) {
                overPositions |= leaf.shape[a] != 1;
            }
            if (overOutputs && overPositions) {
                return null;
            }
            (overPositions ? examples : outputs).add(leaf);
        }
        if (examples.isEmpty() || outputs.isEmpty()) {
            return null; // δ constant over the positions or over the outputs: the other orders serve it as well
        }
        return new CotangentFactors(examples, outputs, delta.shape(), from);
    }

    /**
     * Adds the factors of {@code v} (of its reciprocal when {@code inverse}), whose axis j is δ's axis {@code
     * toD[j]} (increasing), to {@code out}; false when there are more than {@link #MAX_FACTORS}.
     */
    private static boolean collect(Map<Var, Equation> producer, Var v, int[] toD, int rank, boolean inverse,
                                   List<Factor> out) {
        Equation e = producer.get(v);
        if (e != null && (e.primitive() instanceof Mul || e.primitive() instanceof Div)) {
            for (int i = 0; i < 2; i++) { // NumPy broadcasting: an operand's axes are v's trailing ones
                Var u = e.input(i);
                boolean inv = inverse ^ (i == 1 && e.primitive() instanceof Div);
                if (!collect(producer, u, Arrays.copyOfRange(toD, v.rank() - u.rank(), toD.length), rank, inv, out)) {
                    return false;
                }
            }
            return true;
        }
        if (e != null && e.primitive() instanceof BroadcastInDim b) {
            int[] dims = b.broadcastDimensions(); // increasing, by the primitive's rule
            int[] map = new int[dims.length];
            for (int j = 0; j < dims.length; j++) {
                map[j] = toD[dims[j]];
            }
            return collect(producer, e.input(0), map, rank, inverse, out);
        }
        if (out.size() == MAX_FACTORS) {
            return false;
        }
        int[] shape = new int[rank];
        Arrays.fill(shape, 1);
        for (int j = 0; j < v.rank(); j++) {
            shape[toD[j]] = v.dim(j);
        }
        out.add(new Factor(v, shape, inverse));
        return true;
    }

    /** FLOPs of forming M and G from the factors' values ({@link #product} of each list). */
    double formationFlops() {
        return productFlops(examples) + productFlops(outputs);
    }

    /** Every factor's value: what the pass graph must return besides its outputs. */
    List<Var> values() {
        List<Var> all = new ArrayList<>();
        for (Factor f : examples) {
            all.add(f.value);
        }
        for (Factor f : outputs) {
            all.add(f.value);
        }
        return all;
    }

    /** M's shape in δ's axes: [1, N, positions..., features...]. */
    int[] examplesShape() {
        int[] s = delta.clone();
        s[0] = 1;
        return s;
    }

    /** G's shape in δ's axes: [K, N, 1..., features...]. */
    int[] outputsShape() {
        int[] s = delta.clone();
        Arrays.fill(s, 2, featuresFrom, 1);
        return s;
    }

    /** R, the positions. */
    int positions() {
        return Shapes.size(Arrays.copyOfRange(delta, 2, featuresFrom));
    }

    /** F, the features. */
    int features() {
        return Shapes.size(Arrays.copyOfRange(delta, featuresFrom, delta.length));
    }

    /**
     * FLOPs of {@link #product} for these factors: one per element of each product (or quotient) of two, and of
     * the first factor's reciprocal when it divides; the broadcast to the full shape, where the product falls
     * short of it, is data movement.
     */
    static double productFlops(List<Factor> factors) {
        int[] shape = factors.get(0).shape;
        double flops = factors.get(0).divides ? Shapes.size(shape) : 0;
        for (int i = 1; i < factors.size(); i++) {
            shape = Shapes.broadcast("product", shape, factors.get(i).shape);
            flops += Shapes.size(shape);
        }
        return flops;
    }

    /**
     * Elements {@link #product} holds at once: none for a single factor of the full shape (read in place), else
     * the largest of a running product and the next one (or the full broadcast) while both are alive.
     */
    static long productElements(List<Factor> factors, int[] full) {
        int[] shape = factors.get(0).shape;
        // the running product's elements when it is a new tensor (the first factor is read in place)
        long held = factors.get(0).divides ? Shapes.size(shape) : 0;
        long peak = held;
        for (int i = 1; i < factors.size(); i++) {
            shape = Shapes.broadcast("product", shape, factors.get(i).shape);
            peak = Math.max(peak, held + Shapes.size(shape));
            held = Shapes.size(shape);
        }
        if (!Arrays.equals(shape, full)) {
            peak = Math.max(peak, held + Shapes.size(full));
        }
        return peak;
    }

    /**
     * The product of the factors' values (in the order of {@code factors}; divided by those that divide),
     * broadcast to {@code full} (δ's rank), as {@code as} (the same size): a read view of the one factor's value
     * when it is alone, multiplies and has the full shape, else a new tensor. Closing the result is always right.
     */
    static Tensor product(List<Factor> factors, Tensor[] values, int[] full, int[] as) {
        Tensor t = values[0].readView(factors.get(0).shape);
        if (factors.get(0).divides) {
            try (Tensor divisor = t) {
                t = Elementwise.map(divisor, x -> 1 / x);
            }
        }
        for (int i = 1; i < factors.size(); i++) {
            try (Tensor v = values[i].readView(factors.get(i).shape); Tensor previous = t) {
                t = Elementwise.binary(factors.get(i).divides ? Elementwise.BinaryOp.DIV : Elementwise.BinaryOp.MUL,
                        previous, v);
            }
        }
        if (!Arrays.equals(t.shape(), full)) {
            try (Tensor part = t) {
                t = new BroadcastInDim(full, Shapes.iota(full.length)).evaluate(part);
            }
        }
        return t.reshapeMove(as);
    }
}
