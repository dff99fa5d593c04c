#pragma once
// Module: a layer or a model, with its parameters and sub-modules registered by name (torch.nn.Module).
//
//     class Mlp : public Module {
//     public:
//         Mlp(int64_t dim, int64_t hidden, Rng& rng) : fc1_(dim, hidden, rng), fc2_(hidden, dim, rng) {
//             register_module("fc1", fc1_);
//             register_module("fc2", fc2_);
//         }
//         ...
//     };
//
// named_parameters() then lists "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias": PyTorch's state_dict
// names, so weights map one to one between patchgrad, timm and PyTorch. A parameter is a Tensor that
// requires grad; the module and its member share the handle, so an optimizer's in-place update is seen
// by both. Sub-modules are members of their parent (or owned through a unique_ptr, for a list of blocks),
// so a Module can neither be copied nor moved: the registry holds pointers into it.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "nn/kernels.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

class Module {
public:
    Module() = default;
    virtual ~Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    // Every parameter, depth first in registration order, with dotted names ("blocks.0.attn.qkv.weight").
    std::vector<std::pair<std::string, Tensor>> named_parameters() const;
    std::vector<Tensor> parameters() const;
    // Non-trainable tensors saved with the model, such as Swin's relative_position_index.
    std::vector<std::pair<std::string, Tensor>> named_buffers() const;
    int64_t parameter_count() const;  // the total number of scalars in parameters()

    void zero_grad();                 // drops every parameter's grad
    void train(bool on = true);       // training mode (dropout active), recursively
    void eval() { train(false); }
    bool is_training() const { return training_; }
    // The kernels this module and every sub-module run, set recursively like train().
    void use_kernels(Kernels kernels);
    Kernels kernels() const { return kernels_; }

protected:
    // Registers `value` under `name`, marks it as requiring grad and returns it.
    Tensor register_parameter(const std::string& name, Tensor value);
    Tensor register_buffer(const std::string& name, Tensor value);
    // `child` must outlive this module: it is a member of it, or owned by one.
    void register_module(const std::string& name, Module& child);

private:
    void check_new_name(const std::string& name, const char* what) const;  // non-empty, no '.', not taken
    void collect(const std::string& prefix, bool buffers, std::vector<std::pair<std::string, Tensor>>& out) const;
    std::vector<std::pair<std::string, Tensor>> parameters_;
    std::vector<std::pair<std::string, Tensor>> buffers_;
    std::vector<std::pair<std::string, Module*>> children_;
    bool training_ = true;
    Kernels kernels_ = Kernels::fast;
};

// A numbered list of modules of one type: registered as "0", "1", ..., so a list registered as "blocks"
// names its parameters "blocks.0.norm1.weight", "blocks.1.norm1.weight", ... (torch.nn.ModuleList).
template <class M>
class ModuleList : public Module {
public:
    M& push_back(std::unique_ptr<M> module) {
        items_.push_back(std::move(module));
        register_module(std::to_string(items_.size() - 1), *items_.back());
        return *items_.back();
    }
    size_t size() const { return items_.size(); }
    M& operator[](size_t i) const { return *items_.at(i); }

private:
    std::vector<std::unique_ptr<M>> items_;
};

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
