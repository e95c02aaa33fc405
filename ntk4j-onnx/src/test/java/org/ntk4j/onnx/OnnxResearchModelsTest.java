package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npy;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * The networks researchers export (transformers, torch.einsum, F.interpolate, a U-Net-like up path), exported by
 * torch 1.13 in float64 (eval mode, no constant folding) at opset 17 and at the exporter's default (14), by
 * {@code torch_onnx_research.py}: each either imports
 * exactly (the forward pass and the full eNTK on 3 inputs by each method within 1e-12, relative, of PyTorch's and of
 * functorch's jacrev contracted in float64) or is refused with one line naming the cause.
 */
class OnnxResearchModelsTest {
    private static final double TOLERANCE = 1e-12;
    private static final String[] EXACT = {"encoder_relu_bf_drop", "encoder_gelu_bf_nodrop", "mha", "layernorm",
        "mlp", "catskip", "reshapes", "einsum", "einsum_attention", "einsum_products", "interpolate", "bilinear",
        "bicubic", "unet", "embedding", "text_encoder"};
    /**
     * Decoders with causal masks, a GPT-2 block, a ViT, repeats, sin/cos encodings and integer Where branches:
     * exported at both opsets, each checked by a test of its own below.
     */
    private static final String[] DECODERS_AND_VITS = {"causal_inf", "causal_bool", "mha_causal", "nanogpt",
        "triu_forward", "gpt2", "vit", "repeats", "sincos", "where_int", "sequence_expand"};
    private static final String[] REFUSED = {"encoder_gelu_sf_drop:17", "encoder_relu_bf_drop::fixed",
        "mha:17:fixed", "reshapes::fixed", "encoder_gelu_sf_drop::fixed"};

    @TempDir
    static Path exports;
    private static final TorchReference.Exports EXPORTS = TorchReference.Exports.torch("torch_onnx_research.py",
            "--model", specs());

    /** REFUSED as they are, EXACT and DECODERS_AND_VITS at the default opset and 17, three of a fixed batch. */
    private static String specs() {
        List<String> specs = new ArrayList<>(List.of(REFUSED));
        List<String> exact = new ArrayList<>(List.of(EXACT));
        exact.addAll(List.of(DECODERS_AND_VITS));
        for (String m : exact) {
            specs.add(m + "::dyn");
            specs.add(m + ":17:dyn");
        }
        specs.addAll(List.of("mlp::fixed", "catskip:17:fixed", "layernorm:17:fixed"));
        return String.join(",", specs);
    }

    /** Exports every variant in one Python process (about 5 s); once per class. */
    private static Path reference(String variant) throws IOException, InterruptedException {
        return EXPORTS.in(exports, variant);
    }

    @Test
    void transformerAttentionLayerNormMlpSkipReshapesEinsumAndResizeImportExactlyAtBothOpsets() throws Exception {
        for (String m : EXACT) {
            compareInFloat64(reference(m + "_default_dyn"));
            compareInFloat64(reference(m + "_17_dyn"));
        }
        // opset 17 writes LayerNormalization, the default opset (14) the decomposition into ReduceMean, Sub, Pow,
        // Sqrt, Div; both exact
        assertThat(ops(reference("layernorm_17_dyn"))).contains("LayerNormalization");
        assertThat(ops(reference("layernorm_default_dyn"))).doesNotContain("LayerNormalization").contains("Pow");
        assertThat(ops(reference("encoder_gelu_bf_nodrop_17_dyn"))).contains("Erf");
        // an eval-mode export leaves no Dropout node
        assertThat(ops(reference("encoder_relu_bf_drop_17_dyn"))).contains("Softmax").doesNotContain("Dropout");
        assertThat(ops(reference("mlp_17_dyn"))).contains("Softplus", "Sigmoid", "Tanh");
        assertThat(ops(reference("catskip_17_dyn"))).contains("Concat");
        for (String m : new String[] {"einsum", "einsum_attention", "einsum_products"}) {
            assertThat(ops(reference(m + "_17_dyn"))).contains("Einsum");
        }
        for (String m : new String[] {"interpolate", "bilinear", "bicubic", "unet"}) {
            assertThat(ops(reference(m + "_default_dyn"))).contains("Resize");
        }
        // F.interpolate(mode='bicubic'): Resize in mode cubic (it was refused)
        assertThat(OnnxModel.load(reference("bicubic_17_dyn").resolve("model.onnx")).graph().nodes.stream()
                .filter(n -> n.getOpType().equals("Resize")).map(n -> n.getAttributeList().stream()
                        .filter(a -> a.getName().equals("mode")).findFirst().orElseThrow().getS().toStringUtf8()))
                .containsOnly("cubic");
    }

    /**
     * GPT-style causal masks held in the file: a float buffer of −∞ above the diagonal added to the scores (and
     * nn.MultiheadAttention's attn_mask of generate_square_subsequent_mask), an initializer that holds −∞ and so is
     * a constant, not a parameter (it was one, and the kernel stopped on its non-finite value); and a bool buffer given
     * to masked_fill(mask, −inf). Each imports exactly (forward and every method's eNTK against jacrev, 1e-12).
     */
    @Test
    void causalMasksHeldAsInitializersAreConstantsAndImportExactly() throws Exception {
        for (String m : new String[] {"causal_inf", "causal_bool", "mha_causal"}) {
            for (String opset : new String[] {"_default_dyn", "_17_dyn"}) {
                compareInFloat64(reference(m + opset));
                OnnxModel onnx = OnnxModel.load(reference(m + opset).resolve("model.onnx"));
                assertThat(onnx.parameterNames()).as(m).doesNotContain("mask");
            }
        }
        OnnxModel inf = OnnxModel.load(reference("causal_inf_17_dyn").resolve("model.onnx"));
        InitializerData mask = inf.graph().initializers.get("mask");
        assertThat(mask.get(1)).isEqualTo(Double.NEGATIVE_INFINITY);
        assertThat(ops(reference("causal_bool_17_dyn"))).contains("Where");
    }

    /**
     * nanoGPT's float causal buffer tril(ones), read only through masked_fill(bias[..] == 0, -inf): a comparison, with
     * no derivative, so the buffer is a constant (it was a parameter of 25 scalars with a zero Jacobian, counted and
     * listed). Triangles computed in forward (ONNX Trilu, which was refused): a causal mask torch.triu(full(-inf), 1)
     * evaluated at import, and torch.tril of a weight, a product with the constant triangle. Both exact.
     */
    @Test
    void aBufferReadOnlyThroughComparisonsIsAConstantAndTriluImportsExactly() throws Exception {
        for (String opset : new String[] {"_default_dyn", "_17_dyn"}) {
            compareInFloat64(reference("nanogpt" + opset));
            assertThat(OnnxModel.load(reference("nanogpt" + opset).resolve("model.onnx")).parameterNames())
                    .doesNotContain("bias");
            compareInFloat64(reference("triu_forward" + opset));
        }
        assertThat(ops(reference("nanogpt_17_dyn"))).contains("Equal", "Where");
        assertThat(ops(reference("triu_forward_17_dyn"))).contains("Trilu");
    }

    /**
     * A GPT-2 block as Hugging Face writes it (LayerNorm, GELU(tanh), a causal bool buffer sliced to the length with
     * torch.where(causal, scores, finfo.min), an MLP, a head tied to the word embeddings): one parameter wte.weight
     * for the Gather and the head's MatMul, exact against jacrev with the tie kept.
     */
    @Test
    void gpt2BlockWithTiedEmbeddingsImportsExactly() throws Exception {
        for (String opset : new String[] {"_default_dyn", "_17_dyn"}) {
            compareInFloat64(reference("gpt2" + opset));
            OnnxModel onnx = OnnxModel.load(reference("gpt2" + opset).resolve("model.onnx"));
            assertThat(onnx.parameterNames()).contains("wte.weight").doesNotContain("lm_head.weight", "bias");
        }
        assertThat(ops(reference("gpt2_17_dyn"))).contains("Where", "Tanh", "LayerNormalization", "Gather");
        // computed in float32, the float64 export's mask value finfo(float64).min is beyond float32's range: it
        // saturates to -Float.MAX_VALUE (rounded to -inf it gave NaN, 0 · -inf); float32 tolerance
        Path dir = reference("gpt2_17_dyn");
        OnnxModel onnx = OnnxModel.load(dir.resolve("model.onnx"));
        try (Params params = onnx.params(DType.F32);
             Tensor x = Npy.readTensor(dir.resolve("x.npy"), DType.F32);
             Tensor k = Npy.readTensor(dir.resolve("k.npy"), DType.F64)) {
            Signal.assertVariesRelative(k, 2, 1e-5, "eNTK of gpt2_17_dyn");
            for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES}) {
                try (Tensor ntk = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(m).ntk(x, null)) {
                    assertThat(OnnxTorchTest.relativeError(ntk, k)).as("float32 eNTK by %s", m).isLessThan(1e-5);
                }
            }
        }
    }

    /**
     * A side of one example (K(x_1, X), K(x_1, x_1): {@code kernel --x2} of one example, a tile of one row): at
     * N = 1 the import keeps the exporter's transpose of the (size-1) batch axis, so that side's trace carries the
     * examples on axis 1 while the batch's carries them first. Jacobian contraction gave a wrong kernel (6.20
     * against jacrev's 7.31 on the text encoder) and structured derivatives an IndexOutOfBoundsException: each read
     * axis 0 of the one-example trace as the examples. Every method now equals the rows of jacrev's kernel.
     */
    @Test
    void attentionModelsWithASideOfOneExampleMatchJacrev() throws Exception {
        for (String m : new String[] {"text_encoder", "mha", "vit"}) {
            for (String opset : new String[] {"_default_dyn", "_17_dyn"}) {
                compareOneExampleInFloat64(reference(m + opset));
            }
        }
    }

    /**
     * K(x_1, X) and K(x_1, x_1) by each exact method against the first row (and entry) of jacrev's kernel of the
     * three inputs, in float64.
     */
    private static void compareOneExampleInFloat64(Path dir) throws IOException {
        OnnxModel onnx = OnnxModel.load(dir.resolve("model.onnx"));
        try (Params params = onnx.params(DType.F64);
             Tensor x = Npy.readTensor(dir.resolve("x.npy"), DType.F64);
             Tensor k = Npy.readTensor(dir.resolve("k.npy"), DType.F64);
             Tensor x1 = org.ntk4j.cpu.Layout.sliceAxis(x, 0, 0, 1);
             Tensor row = org.ntk4j.cpu.Layout.sliceAxis(k, 0, 0, 1);
             Tensor entry = org.ntk4j.cpu.Layout.sliceAxis(row, 1, 0, 1)) {
            // the entry is one pair, with nothing to vary across; the row's three pairs are its signal too
            Signal.assertVariesRelative(row, 2, TOLERANCE, "K(x_1, X) of " + dir);
            for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES}) {
                EmpiricalNtk ntk = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(m);
                try (Tensor against = ntk.ntk(x1, x);
                     Tensor itself = ntk.ntk(x1, null)) {
                    assertThat(against.shape()).containsExactly(row.shape());
                    assertThat(OnnxTorchTest.relativeError(against, row)).as("K(x_1, X) of %s by %s", dir, m)
                            .isLessThan(TOLERANCE);
                    assertThat(itself.shape()).containsExactly(entry.shape());
                    assertThat(OnnxTorchTest.relativeError(itself, entry)).as("K(x_1, x_1) of %s by %s", dir, m)
                            .isLessThan(TOLERANCE);
                }
            }
        }
    }

    /**
     * A ViT-style network: a class token expanded to the batch (Expand to a shape computed from Shape(x)) and
     * concatenated with the patch embeddings. A parameter broadcast to N rows used to be a value of the parameters
     * alone with an axis of the batch's size: structured derivatives then failed ("concatenate: operand 1 f64[1,4,8]
     * does not fit") and the Jacobian contraction's cost estimate was absurd. Exact by every method now.
     */
    @Test
    void vitClassTokenExpandedToTheBatchImportsExactlyByEveryMethod() throws Exception {
        for (String opset : new String[] {"_default_dyn", "_17_dyn"}) {
            compareInFloat64(reference("vit" + opset));
        }
        assertThat(ops(reference("vit_17_dyn"))).contains("Conv", "Expand", "Concat", "LayerNormalization");
    }

    /**
     * x.repeat (ONNX Tile, which was refused): a class token repeated to the batch, tokens repeated along their own
     * axes, and a constant index list repeated at import. Exact by every method.
     */
    @Test
    void repeatsImportExactly() throws Exception {
        for (String opset : new String[] {"_default_dyn", "_17_dyn"}) {
            compareInFloat64(reference("repeats" + opset));
        }
        assertThat(OnnxModel.load(reference("repeats_17_dyn").resolve("model.onnx")).graph().nodes.stream()
                .filter(n -> n.getOpType().equals("Tile")).count()).isEqualTo(3);
    }

    /**
     * Position rows expanded and repeated to the sequence length read from x's shape, on 3 examples of sequences of 3:
     * the target shape's first size equals the batch's without being the examples' axis. The import took it for a
     * class token broadcast to the examples (a test of the sizes at the run's N), and the Jacobian contraction's and
     * structured derivatives' kernels were silently wrong (relative error 7e-3). Exact by every method now.
     */
    @Test
    void aSequenceAxisAsLongAsTheBatchIsNotTakenForTheExamples() throws Exception {
        for (String opset : new String[] {"_default_dyn", "_17_dyn"}) {
            compareInFloat64(reference("sequence_expand" + opset));
        }
        assertThat(ops(reference("sequence_expand_17_dyn"))).contains("Expand", "Tile", "Shape");
    }

    /**
     * A class token repeated to the batch (cls.repeat(x.shape[0], 1, 1)) on a single example against three: the
     * import followed the examples at N > 1 only, so at N = 1 the token was a value of the parameters alone and
     * structured derivatives failed (a NullPointerException). Every method's K(x_i, X) of one example i against the
     * three equals jacrev's rows, as does K(X, x_i).
     */
    @Test
    void aClassTokenRepeatedToASingleExampleImportsExactly() throws Exception {
        Path dir = reference("repeats_17_dyn");
        OnnxModel onnx = OnnxModel.load(dir.resolve("model.onnx"));
        try (Params params = onnx.params(DType.F64);
             Tensor x = Npy.readTensor(dir.resolve("x.npy"), DType.F64);
             Tensor k = Npy.readTensor(dir.resolve("k.npy"), DType.F64)) {
            int per = x.size() / x.dim(0);
            int outputs = k.dim(2);
            for (int i = 0; i < x.dim(0); i++) {
                double[] row = java.util.Arrays.copyOfRange(x.toDoubleArray(), i * per, (i + 1) * per);
                try (Tensor one = Tensor.of(row, org.ntk4j.tensor.Shapes.prepend(1, onnx.inputShape()))) {
                    for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                        Method.STRUCTURED_DERIVATIVES}) {
                        try (Tensor a = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(m).ntk(one, x);
                             Tensor b = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(m).ntk(x, one)) {
                            for (int j = 0; j < x.dim(0); j++) {
                                for (int p = 0; p < outputs; p++) {
                                    for (int q = 0; q < outputs; q++) {
                                        double want = k.get(i, j, p, q);
                                        assertThat(a.get(0, j, p, q)).as("K(x_%d, X) by %s", i, m)
                                                .isCloseTo(want, org.assertj.core.data.Offset.offset(1e-12));
                                        assertThat(b.get(j, 0, p, q)).as("K(X, x_%d) by %s", i, m)
                                                .isCloseTo(k.get(j, i, p, q),
                                                        org.assertj.core.data.Offset.offset(1e-12));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * Sin and Cos (which were refused): sinusoidal position encodings computed in forward from constants, a
     * rotary-style rotation by cos/sin of the positions, and sin of a computed value. Exact by every method.
     */
    @Test
    void sinusoidalEncodingsAndRotationsImportExactly() throws Exception {
        for (String opset : new String[] {"_default_dyn", "_17_dyn"}) {
            compareInFloat64(reference("sincos" + opset));
        }
        assertThat(ops(reference("sincos_17_dyn"))).contains("Sin", "Cos");
    }

    /**
     * torch.where with an integer constant branch (count guarded by torch.where(count > 0, count, 1), weights
     * torch.where(ids > 4, 2, 1)): was refused ("input ... is int64; the graph computes in floating point only"),
     * now exact, the example whose ids are all 0 included.
     */
    @Test
    void whereWithAnIntegerConstantBranchImportsExactly() throws Exception {
        for (String opset : new String[] {"_default_dyn", "_17_dyn"}) {
            compareInFloat64(reference("where_int" + opset));
        }
        assertThat(ops(reference("where_int_17_dyn"))).contains("Where", "ReduceSum", "Cast");
    }

    @Test
    void aFixedBatchWithoutReshapesImportsExactly() throws Exception {
        // no batch size written into a shape: the fixed batch axis is taken as the examples' at any size
        compareInFloat64(reference("mlp_default_fixed"));
        compareInFloat64(reference("catskip_17_fixed"));
        compareInFloat64(reference("layernorm_17_fixed"));
    }

    @Test
    void aFixedBatchWrittenIntoAttentionReshapesIsRefusedNamingTheNodeAndTheFix() throws Exception {
        String fix = "; the file fixes the batch axis of input 'x' at 3 examples and ntk4j runs the model on batches "
                + "of other sizes: export with dynamic_axes={'x': {0: 'batch'}, 'y': {0: 'batch'}}";
        // a three-axis input may be sequence-first: the fix for either case
        String eitherFix = "; the file fixes axis 0 of input 'x' ([3, 4, 8]) at 3, which ntk4j takes as the examples' "
                + "axis, and ntk4j runs the model on batches of other sizes; the file does not say which axis is the "
                + "batch: if axis 0, export with dynamic_axes={'x': {0: 'batch'}, 'y': {0: 'batch'}}; if axis 1 (a "
                + "sequence-first module, such as nn.TransformerEncoderLayer with batch_first=False), export the "
                + "module batch-first";
        Path encoder = reference("encoder_relu_bf_drop_default_fixed").resolve("model.onnx");
        assertThatThrownBy(() -> OnnxModel.load(encoder)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(encoder + ": node '/self_attn/Reshape' (Reshape): cannot reshape [4, N, 8] to "
                        + "[4, 6, 4]" + eitherFix);
        Path mha = reference("mha_17_fixed").resolve("model.onnx");
        assertThatThrownBy(() -> OnnxModel.load(mha)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(mha + ": node '/mha/Reshape' (Reshape): cannot reshape [4, N, 8] to [4, 6, 4]"
                        + eitherFix);
        Path reshapes = reference("reshapes_default_fixed").resolve("model.onnx");
        assertThatThrownBy(() -> OnnxModel.load(reshapes)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(reshapes + ": node '/Reshape' (Reshape): cannot reshape [N, 12] to [3, 3, 4]" + fix);
    }

    @Test
    void aSequenceFirstEncoderIsRefusedNamingTheBatchAxis() throws Exception {
        Path f = reference("encoder_gelu_sf_drop_17_dyn").resolve("model.onnx");
        assertThatThrownBy(() -> OnnxModel.load(f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith(f + ": input 'x' axis 1 is dynamic ('batch') while axis 0, which ntk4j "
                        + "takes as the examples' axis, is fixed at 4; if axis 1 is the batch (a sequence-first "
                        + "module, such as nn.TransformerEncoderLayer with batch_first=False), export the module "
                        + "batch-first; otherwise");
    }

    /**
     * A sequence-first encoder exported with every axis fixed ([L, N, E] = [4, 3, 8]): ntk4j takes axis 0, the
     * sequence, as the examples', and the file cannot say otherwise. The refusal must not tell the user to make axis
     * 0 dynamic as the batch (which would import the sequence positions as examples: another function's kernel, with
     * no error); it says that the file does not tell which axis is the batch, and the fix for each case.
     */
    @Test
    void aSequenceFirstEncoderWithEveryAxisFixedIsNotSteeredToAxis0AsTheBatch() throws Exception {
        Path f = reference("encoder_gelu_sf_drop_default_fixed").resolve("model.onnx");
        assertThatThrownBy(() -> OnnxModel.load(f)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageEndingWith("; the file fixes axis 0 of input 'x' ([4, 3, 8]) at 4, which ntk4j takes as "
                        + "the examples' axis, and ntk4j runs the model on batches of other sizes; the file does not "
                        + "say which axis is the batch: if axis 0, export with dynamic_axes={'x': {0: 'batch'}, 'y': "
                        + "{0: 'batch'}}; if axis 1 (a sequence-first module, such as nn.TransformerEncoderLayer with "
                        + "batch_first=False), export the module batch-first")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }

    /**
     * Text models of int64 token ids (nn.Embedding, alone and before a TransformerEncoderLayer): the embedding table
     * is a parameter (compareInFloat64 checks the forward pass and every method's eNTK against jacrev's, table
     * included), the Gather is a one-hot product (no Gather left to index by constants) and examples stay apart.
     */
    @Test
    void tokenIdsIndexTheEmbeddingTableAsAParameter() throws Exception {
        for (String variant : new String[] {"embedding_17_dyn", "text_encoder_default_dyn"}) {
            OnnxModel onnx = OnnxModel.load(reference(variant).resolve("model.onnx"));
            assertThat(onnx.idInput()).isTrue();
            assertThat(onnx.parameterNames()).contains("emb.weight");
            assertThat(onnx.inputShape()).containsExactly(5);
            assertThat(ops(reference(variant))).contains("Gather");
        }
    }

    /** Negative ids count from the end of the table, as in ONNX: -1 is row 49 of 50, -50 is row 0. */
    @Test
    void negativeIdsWrapAsInOnnx() throws Exception {
        OnnxModel onnx = OnnxModel.load(reference("text_encoder_17_dyn").resolve("model.onnx"));
        try (Params params = onnx.params(DType.F64);
             Tensor wrapped = Tensor.of(new double[] {-1, 3, -50, 7, 7, 12, -13, 0, 1, 2}, 2, 5);
             Tensor plain = Tensor.of(new double[] {49, 3, 0, 7, 7, 12, 37, 0, 1, 2}, 2, 5);
             Tensor a = onnx.model().apply(params, wrapped);
             Tensor b = onnx.model().apply(params, plain)) {
            Signal.assertVariesRelative(b, 1, TOLERANCE, "forward of the plain ids");
            assertThat(OnnxTorchTest.relativeError(a, b)).isLessThan(TOLERANCE);
        }
    }

    /**
     * Ids the table does not have, fractions, and float32 values beyond 2^24 are refused by checkIds naming the
     * input, the example, the id and the range; the model itself gives NaN rather than a silent zero row.
     */
    @Test
    void badIdsAreRefusedInOneLineAndNeverGiveASilentAnswer() throws Exception {
        Path f = reference("embedding_17_dyn").resolve("model.onnx");
        OnnxModel onnx = OnnxModel.load(f);
        String at = "--data: input 'x' of model.onnx holds token ids (int64); example 1 has ";
        try (Tensor ok = Tensor.of(new double[] {0, 49, -50, -1, 3, 4, 5, 6, 7, 8}, 2, 5);
             Tensor high = Tensor.of(new double[] {0, 1, 2, 3, 4, 5, 6, 50, 8, 9}, 2, 5);
             Tensor low = Tensor.of(new double[] {0, 1, 2, 3, 4, 5, 6, -51, 8, 9}, 2, 5);
             Tensor half = Tensor.of(new double[] {0, 1, 2, 3, 4, 5, 6, 1.5, 8, 9}, 2, 5);
             Tensor huge = Tensor.of(new float[] {0, 1, 2, 3, 4, 5, 6, 16777218f, 8, 9}, 2, 5)) {
            onnx.checkIds("--data", ok);
            assertThatThrownBy(() -> onnx.checkIds("--data", high)).hasMessage(at + "id 50, out of range for the "
                    + "50 rows of 'emb.weight' (ids -50 to 49)");
            assertThatThrownBy(() -> onnx.checkIds("--data", low)).hasMessage(at + "id -51, out of range for the "
                    + "50 rows of 'emb.weight' (ids -50 to 49)");
            assertThatThrownBy(() -> onnx.checkIds("--data", half)).hasMessage(at + "1.5, not a whole number");
            assertThatThrownBy(() -> onnx.checkIds("--data", huge)).hasMessage(at + "16777218, beyond 2^24, the "
                    + "largest integer float32 holds exactly (ids near it may have been rounded); use float64 data "
                    + "(--dtype f64)");
        }
        try (Params params = onnx.params(DType.F64);
             Tensor x = Tensor.of(new double[] {0, 1, 2, 3, 4, 5, 6, 50, 8, 9}, 2, 5);
             Tensor y = onnx.model().apply(params, x)) {
            // example 0 is fine, example 1 reads a row the table does not have
            for (int j = 0; j < 3; j++) {
                assertThat(y.get(0, j)).isFinite();
                assertThat(y.get(1, j)).isNaN();
            }
        }
    }

    private static java.util.Set<String> ops(Path dir) {
        java.util.Set<String> ops = new java.util.TreeSet<>();
        OnnxModel.load(dir.resolve("model.onnx")).graph().nodes.forEach(n -> ops.add(n.getOpType()));
        return ops;
    }

    /** The parameters (names, count), the forward pass and the eNTK by each exact method, in float64. */
    private static void compareInFloat64(Path dir) throws IOException {
        OnnxModel onnx = OnnxModel.load(dir.resolve("model.onnx"));
        TorchReference.assertParameters(onnx, dir);
        assertThat(onnx.independentExamples()).as(dir.toString()).isTrue();
        assertThat(OnnxTorchTest.valuesWithoutTheExampleAxisFirst(onnx, 5)).as(dir.toString()).isEmpty();
        try (Params params = onnx.params(DType.F64);
             Tensor x = Npy.readTensor(dir.resolve("x.npy"), DType.F64);
             Tensor y = Npy.readTensor(dir.resolve("y.npy"), DType.F64);
             Tensor k = Npy.readTensor(dir.resolve("k.npy"), DType.F64);
             Tensor f = onnx.model().apply(params, x)) {
            assertThat(f.shape()).containsExactly(y.shape());
            Signal.assertVariesRelative(y, 1, TOLERANCE, "forward of " + dir);
            Signal.assertVariesRelative(k, 2, TOLERANCE, "eNTK of " + dir);
            assertThat(OnnxTorchTest.relativeError(f, y)).as("forward of %s", dir).isLessThan(TOLERANCE);
            for (Method m : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                Method.STRUCTURED_DERIVATIVES}) {
                try (Tensor ntk = EmpiricalNtk.of(onnx.model(), params).traceAxes().method(m).ntk(x, null)) {
                    assertThat(ntk.shape()).containsExactly(k.shape());
                    assertThat(OnnxTorchTest.relativeError(ntk, k)).as("eNTK of %s by %s", dir, m)
                            .isLessThan(TOLERANCE);
                }
            }
        }
    }
}
