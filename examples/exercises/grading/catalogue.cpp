// Every exercise, in the order of the course (docs/exercises.md).
#include "examples/exercises/grading/exercises.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

std::vector<ExerciseInfo> all_exercises() {
    return {
        row_major_offset_info,
        tanh_op_info,
        central_difference_info,
        broadcast_mul_backward_info,
        permute_backward_info,
        matmul_backward_info,
        layer_norm_backward_info,
        cross_entropy_backward_info,
        gelu_backward_info,
        softmax_backward_info,
        attention_backward_info,
        patch_embedding_info,
        convolution_info,
        window_partition_info,
        window_reverse_info,
        shifted_window_mask_info,
        relative_position_index_info,
        adamw_step_info,
        crop_and_flip_info,
        training_step_info,
    };
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
