package org.ntk4j.nn;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ntk4j.graph.Graph;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The ImageNet ResNets of the zoo: torchvision's parameter counts (weights and batch-norm scale/shift, not the
 * running statistics), output shapes, the buffers, and the torchvision key mapping covering every parameter and
 * buffer exactly once.
 */
class ResNetsTest {
    private static final int[] IMAGENET = {224, 224, 3};

    static long count(List<ParamSpec> specs) {
        long n = 0;
        for (ParamSpec s : specs) {
            n += s.size();
        }
        return n;
    }

    /** The counts of {@code sum(p.numel() for p in torchvision.models.X().parameters())}, torchvision 0.14. */
    @Test
    void parameterCountsAreTorchvisions() {
        assertThat(count(Zoo.parse("resnet18").paramSpecs(IMAGENET))).isEqualTo(11_689_512L);
        assertThat(count(Zoo.parse("resnet34").paramSpecs(IMAGENET))).isEqualTo(21_797_672L);
        assertThat(count(Zoo.parse("resnet50").paramSpecs(IMAGENET))).isEqualTo(25_557_032L);
        assertThat(count(Zoo.parse("wide_resnet50_2").paramSpecs(IMAGENET))).isEqualTo(68_883_240L);
        // O = 10: the fc layer shrinks from 512·1000 + 1000 to 512·10 + 10
        assertThat(count(Zoo.parse("resnet18(out=10)").paramSpecs(IMAGENET)))
                .isEqualTo(11_689_512L - 513_000 + 5_130);
        assertThat(Zoo.parse("resnet18").outputShape(IMAGENET)).containsExactly(1000);
        assertThat(Zoo.parse("resnet50(out=7)").outputShape(new int[] {64, 64, 3})).containsExactly(7);
        assertThat(Zoo.entries().stream().filter(e -> e.name().equals("resnet18")).findFirst().orElseThrow()
                .listedInput()).containsExactly(224, 224, 3);
    }

    /** Buffers: two per batch norm, torchvision's running_mean and running_var (num_batches_tracked has no use). */
    @Test
    void runningStatisticsAreBuffersNotParameters() {
        Model m = Zoo.parse("resnet18");
        List<ParamSpec> buffers = m.bufferSpecs(IMAGENET);
        // 20 batch norms in resnet18 (17 in the main path and 3 in the shortcuts), 4,800 channels in all
        assertThat(buffers).hasSize(40);
        assertThat(count(buffers)).isEqualTo(2 * 4_800L);
        assertThat(buffers.get(0).toString()).isEqualTo("1_batch_norm_eval/running_mean[64]");
        assertThat(buffers.get(1).initMean()).isEqualTo(1.0); // running_var defaults to 1
        assertThat(m.independentExamples()).isTrue();
    }

    @Test
    void torchvisionKeysCoverEveryParameterAndBufferOnce() {
        for (String spec : new String[] {"resnet18", "resnet34", "resnet50", "wide_resnet50_2"}) {
            Model m = Zoo.parse(spec);
            int depth = spec.equals("wide_resnet50_2") ? 50 : Integer.parseInt(spec.substring(6));
            List<String> paths = new ArrayList<>();
            m.paramSpecs(IMAGENET).forEach(s -> paths.add(s.path()));
            m.bufferSpecs(IMAGENET).forEach(s -> paths.add(s.path()));
            Map<String, String> keys = ResNets.torchvisionKeys(depth, true);
            assertThat(keys.keySet()).as(spec).containsExactlyInAnyOrderElementsOf(paths);
            assertThat(keys.values()).as(spec).doesNotHaveDuplicates();
        }
        Map<String, String> k = ResNets.torchvisionKeys(18, true);
        assertThat(k.get("0_conv/w")).isEqualTo("conv1.weight");
        assertThat(k.get("5_serial/0_serial/1_parallel/1_serial/0_conv/w")).isEqualTo("layer2.0.downsample.0.weight");
        assertThat(k.get("4_serial/1_serial/1_parallel/0_serial/4_batch_norm_eval/running_var"))
                .isEqualTo("layer1.1.bn2.running_var");
        assertThat(k.get("9_dense/b")).isEqualTo("fc.bias");
        assertThatThrownBy(() -> ResNets.torchvisionKeys(20, true)).hasMessageContaining("depth must be 18, 34");
    }

    /** A tiny resnet18 traces, evaluates, and its graph holds the buffers as constants, not inputs. */
    @Test
    void aTinyResnetRunsWithItsBuffersAsConstants() {
        Model m = Zoo.parse("resnet18(width=2,out=3)");
        int[] in = {16, 16, 3};
        Graph g = m.trace(2, in, DType.F64);
        assertThat(g.inputs()).hasSize(m.paramSpecs(in).size() + 1);
        try (Params p = m.init(1, in, DType.F64); Tensor x = Tensor.randomNormal(DType.F64, 2, 2, 16, 16, 3);
             Tensor y = m.apply(p, x)) {
            assertThat(p.buffers()).hasSize(40);
            assertThat(y.shape()).containsExactly(2, 3);
            assertThat(y.firstNonFinite()).isEqualTo(-1);
        }
    }
}
