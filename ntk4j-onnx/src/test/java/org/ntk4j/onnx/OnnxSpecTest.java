package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@link OnnxSpec}: the string form of an import reads back to the same choices, whatever the path holds. */
class OnnxSpecTest {
    @Test
    void roundTripsPathsAndPatternsWithTheSeparatorsItUses() {
        OnnxSpec s = new OnnxSpec(Path.of("/data/a b+c%41?x=1&y/net.onnx"), new int[] {3, 32, 32}, "lo&gits=1",
                "^layer[12]\\.(weight|bias)$&x=%2F", "a+b c,d?");
        String text = s.toString();
        assertThat(text).startsWith("onnx:/data/a b+c%2541%3Fx=1&y/net.onnx?");
        OnnxSpec back = OnnxSpec.parse(text);
        assertThat(back.file()).isEqualTo(Path.of("/data/a b+c%41?x=1&y/net.onnx"));
        assertThat(back.inputShape()).containsExactly(3, 32, 32);
        assertThat(back.output()).isEqualTo("lo&gits=1");
        assertThat(back.freeze()).isEqualTo("^layer[12]\\.(weight|bias)$&x=%2F");
        assertThat(back.paramsOnly()).isEqualTo("a+b c,d?");
        assertThat(back).isEqualTo(s);
        // no choices: the bare file; a plain path is read as one
        OnnxSpec bare = new OnnxSpec(Path.of("/m/net.onnx"), null, null, null, null);
        assertThat(bare.toString()).isEqualTo("onnx:/m/net.onnx");
        assertThat(OnnxSpec.parse("/m/net.onnx")).isEqualTo(bare);
        assertThat(OnnxSpec.isOnnx("net.ONNX")).isTrue();
        assertThat(OnnxSpec.isOnnx("fcn(depth=2)")).isFalse();
    }

    @Test
    void roundTripsShapesGivenByInputName() {
        java.util.Map<String, int[]> named = new java.util.LinkedHashMap<>();
        named.put("input_ids", new int[] {16});
        named.put("mask&x=1:y", new int[] {1, 16});
        OnnxSpec s = new OnnxSpec(Path.of("/m/text.onnx"), null, null, null, null, named);
        assertThat(s.toString()).isEqualTo("onnx:/m/text.onnx?input-shape:input_ids=16"
                + "&input-shape:mask%26x%3D1%3Ay=1%2C16");
        OnnxSpec back = OnnxSpec.parse(s.toString());
        assertThat(back).isEqualTo(s);
        assertThat(back.namedInputShapes()).containsOnlyKeys("input_ids", "mask&x=1:y");
        assertThat(back.namedInputShapes().get("mask&x=1:y")).containsExactly(1, 16);
        assertThat(back.inputShape()).isNull();
        assertThatThrownBy(() -> new OnnxSpec(Path.of("/m/t.onnx"), null, null, null, null,
                java.util.Map.of("ids", new int[] {0}))).hasMessageStartingWith("--input-shape: every axis needs");
    }

    @Test
    void badChoicesNameTheOption() {
        assertThatThrownBy(() -> new OnnxSpec(Path.of("n.onnx"), null, null, "(", null))
                .hasMessageStartingWith("--freeze: not a valid regular expression '('");
        assertThatThrownBy(() -> OnnxSpec.parseShape("--input-shape", "3,x"))
                .hasMessageStartingWith("--input-shape: expected positive sizes");
        assertThatThrownBy(() -> OnnxSpec.parse("onnx:/n.onnx?colour=red"))
                .hasMessageContaining("unknown option 'colour'");
        assertThatThrownBy(() -> OnnxSpec.parseModel("nonsense(")).isInstanceOf(IllegalArgumentException.class);
    }
}
