package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import org.ntk4j.train.EpochMetrics;
import org.ntk4j.train.TrainState;

class CheckpointsTest {
    /**
     * A checkpoint's parameter file holds the model's constants (batch-norm running statistics) with the
     * parameters, as --params-out does, and both come back: what --params-in, study and --resume compute with.
     */
    @Test
    void aCheckpointKeepsTheParametersBuffers(@TempDir Path dir) throws Exception {
        Model m = new Model(Layers.serial(Layers.dense(4), Layers.batchNormEval(), Layers.relu(), Layers.dense(3)),
                "bn-net");
        int[] in = {3};
        try (Params init = m.init(2, in, DType.F64)) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            init.tensors().forEach((k, v) -> tensors.put(k, v.copy()));
            Map<String, Tensor> stats = new LinkedHashMap<>();
            init.buffers().forEach((k, v) -> stats.put(k, Tensor.full(DType.F64, k.endsWith("var") ? 4 : -0.5,
                    v.shape())));
            Map<String, Tensor> optimizer = new LinkedHashMap<>();
            init.tensors().forEach((k, v) -> optimizer.put("optimizer/momentum/" + k, Tensor.full(DType.F64, 0.25,
                    v.shape())));
            List<EpochMetrics> history = List.of(new EpochMetrics(0, 0, 0.1, Double.NaN, Double.NaN, Double.NaN,
                    Double.NaN, 0), new EpochMetrics(1, 3, 0.1, 0.5, Double.NaN, Double.NaN, 100, 0.03));
            try (TrainState s = new TrainState(new Params(tensors, stats), optimizer, 1, 0, 3, 0, 0, history,
                    "sgd(momentum=0.9, weight_decay=0.0), loss mse")) {
                Checkpoints.save(s, dir, "epoch-0001");
                try (Params file = ParamsFile.load(dir.resolve("epoch-0001.npz"), m, in, DType.F64);
                     TrainState back = Checkpoints.load(dir, "epoch-0001", m, in, DType.F64)) {
                    for (Params p : List.of(file, back.params())) {
                        assertThat(p.buffers().keySet()).containsExactlyElementsOf(stats.keySet());
                        for (String k : stats.keySet()) {
                            assertThat(p.buffers().get(k).toDoubleArray()).as(k)
                                    .containsExactly(stats.get(k).toDoubleArray());
                        }
                        for (String k : tensors.keySet()) {
                            assertThat(p.get(k).toDoubleArray()).as(k).containsExactly(tensors.get(k).toDoubleArray());
                        }
                    }
                    assertThat(back.buffers().keySet()).containsExactlyElementsOf(optimizer.keySet());
                    assertThat(back.step()).isEqualTo(3);
                    assertThat(back.history()).hasSize(2);
                }
            }
        }
    }
}
