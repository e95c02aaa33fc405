package org.ntk4j.graph;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.ntk4j.primitive.BinaryPrimitive;
import org.ntk4j.primitive.BroadcastInDim;
import org.ntk4j.primitive.Mul;
import org.ntk4j.tensor.Shapes;

/**
 * Rewrites element-wise products so that small factors meet before they meet a large operand. A backward pass
 * multiplies a stacked cotangent {@code X [K, N, H, W, C]} by a ReLU mask {@code [N, H, W, C]} and then by a scale
 * (the layer's {@code w_std/√fan_in}), and a broadcast {@code [K, N, C] → [K, N, H, W, C]} by a mask: each a pass
 * over K·N·H·W·C elements. Where the intermediate product is read by nothing else and is no graph output:
 * <ul>
 *   <li>{@code (P · Q) · B → P · (Q · B)} (or {@code (P · B) · Q}), when the new inner product is smaller than
 *       the result and the outer product broadcasts to the same shape: one large product instead of two (the
 *       mask times the scale is N·H·W·C elements, a tenth of the stack's);</li>
 *   <li>{@code broadcast_in_dim(s) ⊙ y → reshape(s) ⊙ y} for an element-wise binary operation, when NumPy
 *       broadcasting of the reshaped operand (its axes in place, size 1 elsewhere) gives the same result: the
 *       kernels read a broadcast operand with stride 0 ({@link org.ntk4j.cpu.Elementwise#binary}), so the
 *       broadcast is never written out.</li>
 * </ul>
 * Products of reals are commutative and associative, so the result is the same up to rounding (exactly the same
 * when the inner factors are 0/1 masks and one scale). Values that are read elsewhere or returned are untouched,
 * so a graph whose outputs include every intermediate is returned unchanged.
 */
public final class ProductRewrite {
    private ProductRewrite() {
    }

    /**
     * The rewritten graph: same inputs, outputs (in order) and values up to rounding; fewer large products.
     *
     * @param g the graph
     * @return {@code g} itself when nothing applies, else a new graph
     */
    public static Graph apply(Graph g) {
        return apply(g, g.outputs(), false);
    }

    /**
     * {@code g} returning only {@code outputs} (values of {@code g}, in this order), without the equations nothing
     * returned depends on, and rewritten: what drops out of the outputs may open products to rewriting.
     *
     * @param g the graph
     * @param outputs the values to return: inputs, constants or equation outputs of {@code g}
     * @return a new graph with {@code g}'s inputs
     */
    public static Graph apply(Graph g, List<Var> outputs) {
        return apply(g, outputs, true);
    }

    private static Graph apply(Graph g, List<Var> outputs, boolean rebuild) {
        Map<Var, Equation> producer = new IdentityHashMap<>();
        Map<Var, Integer> uses = ProductRewrite.producersAndUses(g, producer);
        Map<Var, Boolean> output = new IdentityHashMap<>();
        for (Var v : outputs) {
            output.put(v, Boolean.TRUE);
        }
        if (!rebuild && !mayApply(g, producer, uses, output)) {
            return g; // nothing to rewrite: no replay (planning a deep network builds many pass graphs)
        }
        GraphBuilder b = new GraphBuilder();
        Map<Var, Var> now = ProductRewrite.replayInputsAndConstants(g, b);
        // each product emitted here, by its old variable: its two new operands
        Map<Var, Var[]> products = new IdentityHashMap<>();
        boolean changed = false;
        for (Equation e : g.equations()) {
            List<Var> ins = e.inputs();
            Var[] in = new Var[ins.size()];
            for (int i = 0; i < in.length; i++) {
                in[i] = now.get(ins.get(i));
            }
            int[] shape = e.output().shape();
            if (e.primitive() instanceof BinaryPrimitive) {
                for (int i = 0; i < 2; i++) {
                    Var r = unbroadcast(ins.get(i), producer, uses, output, now, in[1 - i].shape(), shape);
                    if (r != null) {
                        in[i] = r;
                        changed = true;
                    }
                }
            }
            if (e.primitive() instanceof Mul) {
                Var[] re = reassociated(ins, in, products, uses, output, shape);
                if (re != null) {
                    Var small = re[1].mul(re[2]);
                    Var out = re[0].mul(small);
                    products.put(e.output(), new Var[] {re[0], small});
                    now.put(e.output(), out);
                    changed = true;
                    continue;
                }
                products.put(e.output(), in.clone());
            }
            now.put(e.output(), b.apply(e.primitive(), in));
        }
        if (!changed && !rebuild) {
            return g;
        }
        Var[] outs = new Var[outputs.size()];
        for (int i = 0; i < outs.length; i++) {
            outs[i] = now.get(outputs.get(i));
        }
        return b.build(outs);
    }

    /**
     * Whether some equation may be rewritten: an element-wise operation with a private broadcast_in_dim operand, or
     * a product with a private product of its shape as an operand (the replay then decides).
     */
    private static boolean mayApply(Graph g, Map<Var, Equation> producer, Map<Var, Integer> uses,
                                    Map<Var, Boolean> output) {
        for (Equation e : g.equations()) {
            if (!(e.primitive() instanceof BinaryPrimitive)) {
                continue;
            }
            for (Var v : e.inputs()) {
                Equation p = producer.get(v);
                if (p != null && privateValue(v, uses, output) && (p.primitive() instanceof BroadcastInDim
                        || e.primitive() instanceof Mul && p.primitive() instanceof Mul
                        && java.util.Arrays.equals(v.shape(), e.output().shape()))) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Whether {@code v} is read once, by the equation at hand, and is no output: it may be rewritten away. */
    private static boolean privateValue(Var v, Map<Var, Integer> uses, Map<Var, Boolean> output) {
        return uses.getOrDefault(v, 0) == 1 && !output.containsKey(v);
    }

    /**
     * For operand {@code v} of an element-wise binary operation: when it is a private {@code broadcast_in_dim}
     * whose NumPy-broadcast equivalent (its operand reshaped, size 1 on the new axes) against the other operand
     * gives {@code result}, that reshape (new graph); else null.
     */
    private static Var unbroadcast(Var v, Map<Var, Equation> producer, Map<Var, Integer> uses,
                                   Map<Var, Boolean> output, Map<Var, Var> now, int[] other, int[] result) {
        Equation p = producer.get(v);
        if (p == null || !(p.primitive() instanceof BroadcastInDim) || !privateValue(v, uses, output)) {
            return null;
        }
        int[] dims = ((BroadcastInDim) p.primitive()).broadcastDimensions();
        Var s = p.input(0);
        int[] kept = new int[v.rank()];
        java.util.Arrays.fill(kept, 1);
        for (int i = 0; i < dims.length; i++) {
            kept[dims[i]] = s.dim(i);
        }
        int[] bc = Shapes.broadcastOrNull(kept, other);
        return bc != null && java.util.Arrays.equals(bc, result) ? now.get(s).reshape(kept) : null;
    }

    /**
     * For a product {@code x · y} (old operands {@code ins}, new {@code in}) whose one operand is a private product
     * {@code P · Q} of the result's shape: {P, Q, B} (new variables) such that {@code P · (Q · B)} has the
     * result's shape with {@code Q · B} smaller than it, the smallest such inner product; else null.
     */
    private static Var[] reassociated(List<Var> ins, Var[] in, Map<Var, Var[]> products, Map<Var, Integer> uses,
                                      Map<Var, Boolean> output, int[] result) {
        long size = Shapes.size(result);
        Var[] best = null;
        long bestSize = size;
        for (int i = 0; i < 2; i++) {
            Var inner = ins.get(i);
            Var[] pq = products.get(inner);
            if (pq == null || !privateValue(inner, uses, output) || !java.util.Arrays.equals(inner.shape(), result)) {
                continue;
            }
            Var other = in[1 - i];
            for (int j = 0; j < 2; j++) {
                Var keep = pq[j];
                Var join = pq[1 - j];
                int[] small = Shapes.broadcastOrNull(join.shape(), other.shape());
                if (small == null || Shapes.size(small) >= bestSize) {
                    continue;
                }
                int[] whole = Shapes.broadcastOrNull(keep.shape(), small);
                if (whole != null && java.util.Arrays.equals(whole, result)) {
                    best = new Var[] {keep, join, other};
                    bestSize = Shapes.size(small);
                }
            }
        }
        return best;
    }

    /**
     * Fills {@code producer} with each equation by its output and returns how many equations read each variable
     * (what a rewrite of {@code g} checks before fusing a value into its one reader; also {@link InputGradProducts}').
     */
    static Map<Var, Integer> producersAndUses(Graph g, Map<Var, Equation> producer) {
        Map<Var, Integer> uses = new IdentityHashMap<>();
        for (Equation e : g.equations()) {
            producer.put(e.output(), e);
            for (Var v : e.inputs()) {
                uses.merge(v, 1, Integer::sum);
            }
        }
        return uses;
    }

    /**
     * The start of a rewrite's replay of {@code g} into {@code b}: its inputs and constants, each new variable by
     * its old one (also {@link InputGradProducts}').
     */
    static Map<Var, Var> replayInputsAndConstants(Graph g, GraphBuilder b) {
        Map<Var, Var> now = new IdentityHashMap<>();
        for (Var x : g.inputs()) {
            now.put(x, b.input(x.type()));
        }
        for (Map.Entry<Var, org.ntk4j.tensor.Tensor> c : g.constants().entrySet()) {
            now.put(c.getKey(), b.constant(c.getValue()));
        }
        return now;
    }
}
