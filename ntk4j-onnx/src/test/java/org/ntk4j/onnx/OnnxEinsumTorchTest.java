package org.ntk4j.onnx;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * torch.einsum equations beyond {@link OnnxResearchModelsTest}'s, exported by {@code torch_onnx_einsum.py} (review,
 * 2026-12-07, late afternoon): upper-case labels and spaces, a parameter's ellipsis in front of its letters, an
 * ellipsis in the middle of the output, a label three times in one operand, two repeated labels in one operand, an
 * implicit output with an ellipsis and upper- and lower-case letters, a diagonal against another operand. Each
 * imports exactly: parameters, examples first and independent, forward pass and eNTK by each method equal to
 * PyTorch's and jacrev's within 1e-12, relative.
 */
class OnnxEinsumTorchTest {
    @TempDir
    static Path exports;
    private static final TorchReference.Exports EXPORTS = TorchReference.Exports.torch("torch_onnx_einsum.py");

    @Test
    void torchEinsumEquationsImportExactly() throws IOException, InterruptedException {
        for (String m : new String[] {"upper", "param_ellipsis", "ellipsis_middle", "triple", "two_diagonals",
            "implicit_mixed_case", "diag_against"}) {
            OnnxRecurrentTest.compare(EXPORTS.in(exports, m));
        }
    }
}
