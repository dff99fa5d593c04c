#include "nn/module.h"

#include <algorithm>

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

void Module::check_new_name(const std::string& name, const char* what) const {
    check(!name.empty() && name.find('.') == std::string::npos, "Module: ", what, " name '", name,
          "' must be non-empty and contain no '.' (dots join the names of nested modules)");
    const auto taken = [&name](const auto& entries) {
        for (const auto& entry : entries)
            if (entry.first == name) return true;
        return false;
    };
    check(!taken(parameters_) && !taken(buffers_) && !taken(children_), "Module: ", what, " name '", name,
          "' is already registered in this module");
}

Tensor Module::register_parameter(const std::string& name, Tensor value) {
    check_new_name(name, "parameter");
    check(value.defined() && value.is_leaf(), "Module: parameter '", name, "' must be a defined leaf tensor");
    value.requires_grad_(true);
    parameters_.emplace_back(name, value);
    return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
    check_new_name(name, "buffer");
    buffers_.emplace_back(name, value);
    return value;
}

void Module::register_module(const std::string& name, Module& child) {
    check_new_name(name, "module");
    children_.emplace_back(name, &child);
}

void Module::collect(const std::string& prefix, bool buffers, std::vector<std::pair<std::string, Tensor>>& out) const {
    for (const auto& [name, tensor] : buffers ? buffers_ : parameters_) out.emplace_back(prefix + name, tensor);
    for (const auto& [name, child] : children_) child->collect(prefix + name + ".", buffers, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
    std::vector<std::pair<std::string, Tensor>> out;
    collect("", false, out);
    return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
    std::vector<std::pair<std::string, Tensor>> out;
    collect("", true, out);
    return out;
}

std::vector<Tensor> Module::parameters() const {
    std::vector<Tensor> out;
    for (auto& [name, tensor] : named_parameters()) out.push_back(tensor);
    return out;
}

int64_t Module::parameter_count() const {
    int64_t count = 0;
    for (const Tensor& p : parameters()) count += p.numel();
    return count;
}

void Module::zero_grad() {
    for (Tensor& p : parameters()) p.zero_grad();
}

void Module::train(bool on) {
    training_ = on;
    for (auto& [name, child] : children_) child->train(on);
}

void Module::use_kernels(Kernels kernels) {
    kernels_ = kernels;
    for (auto& [name, child] : children_) child->use_kernels(kernels);
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
