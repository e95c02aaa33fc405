package org.ntk4j.graph;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ntk4j.Fixtures;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** The jaxpr-like listing, exactly. */
class GraphPrinterTest {

    @Test
    void smallGraph() {
        Graph g = Graph.trace(List.of(new TensorType(DType.F32, 4, 3), new TensorType(DType.F32, 3, 2)),
                v -> new Var[] {v[0].matmul(v[1]).tanh().add(0.5)});
        assertThat(g.toString()).isEqualTo(""
                + "{ lambda a:f32[]=0.5 ; b:f32[4,3] c:f32[3,2]. let\n"
                + "    d:f32[4,2] = dot_general[contract=([1],[0]) batch=([],[])] b c\n"
                + "    e:f32[4,2] = tanh d\n"
                + "    f:f32[4,2] = add e a\n"
                + "  in (f) }");
        assertThat(GraphPrinter.print(g)).isEqualTo(g.toString());
        assertThat(g.equations().get(1).toString()).isEqualTo("a:f32[4,2] = tanh b");
    }

    @Test
    void parametersConstantsAndSeveralOutputs() {
        Tensor table = Fixtures.f64(new double[] {1, 2, 3}, 3);
        Graph g = Graph.trace(List.of(new TensorType(DType.F64, 2, 3), new TensorType(DType.F64)), v -> {
            Var w = v[0].builder().constant(table);
            Var y = v[0].mul(w).transpose(1, 0).sum(1).reduceMax(new int[] {0});
            Var z = v[0].reshape(3, 2).dotGeneral(v[0], new int[] {0}, new int[] {1}, new int[0], new int[0]);
            return new Var[] {y.sub(v[1]), z, v[1], z};
        });
        assertThat(g.toString()).isEqualTo(""
                + "{ lambda a:f64[3] ; b:f64[2,3] c:f64[]. let\n"
                + "    d:f64[2,3] = mul b a\n"
                + "    e:f64[3,2] = transpose[permutation=[1, 0]] d\n"
                + "    f:f64[3] = reduce_sum[axes=[1]] e\n"
                + "    g:f64[] = reduce_max[axes=[0]] f\n"
                + "    h:f64[3,2] = reshape[new_sizes=[3, 2]] b\n"
                + "    i:f64[2,2] = dot_general[contract=([0],[1]) batch=([],[])] h b\n"
                + "    j:f64[] = sub g c\n"
                + "  in (j, i, c, i) }");
        table.close();
    }

    @Test
    void broadcastsAndBatchedContractions() {
        Graph g = Graph.trace(List.of(new TensorType(DType.F32, 2, 3, 4), new TensorType(DType.F32, 2, 4)),
                v -> new Var[] {v[0].dotGeneral(v[1], new int[] {2}, new int[] {1}, new int[] {0}, new int[] {0})
                        .broadcastInDim(new int[] {5, 2, 3}, new int[] {1, 2}).exp()});
        assertThat(g.toString()).isEqualTo(""
                + "{ lambda ; a:f32[2,3,4] b:f32[2,4]. let\n"
                + "    c:f32[2,3] = dot_general[contract=([2],[1]) batch=([0],[0])] a b\n"
                + "    d:f32[5,2,3] = broadcast_in_dim[shape=[5, 2, 3] dims=[1, 2]] c\n"
                + "    e:f32[5,2,3] = exp d\n"
                + "  in (e) }");
    }

    @Test
    void float32ConstantsPrintAsFloat32() {
        Graph g = Graph.trace(List.of(new TensorType(DType.F32, 2)), v -> new Var[] {v[0].mul(0.1)});
        // the constant holds 0.1f; widened to double it would print as 0.10000000149011612
        assertThat(g.toString()).startsWith("{ lambda a:f32[]=0.1 ; b:f32[2]. let\n");
        Graph h = Graph.trace(List.of(new TensorType(DType.F64, 2)), v -> new Var[] {v[0].mul(0.1)});
        assertThat(h.toString()).startsWith("{ lambda a:f64[]=0.1 ; b:f64[2]. let\n");
    }

    @Test
    void namesContinuePastZ() {
        Graph g = Graph.trace(List.of(new TensorType(DType.F32)), v -> {
            Var x = v[0];
            for (int i = 0; i < 28; i++) {
                x = x.sin();
            }
            return new Var[] {x};
        });
        String s = g.toString();
        assertThat(s).contains("    z:f32[] = sin y\n").contains("    ba:f32[] = sin z\n")
                .contains("    bb:f32[] = sin ba\n").endsWith("  in (bc) }");
    }
}
