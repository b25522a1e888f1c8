import mockllm


def test_the_package_exports_its_error_tree_and_version_only():
    assert sorted(mockllm.__all__) == ["MockllmError", "RequestError", "ScenarioError", "ScenarioErrors", "__version__"]
    assert issubclass(mockllm.ScenarioErrors, mockllm.MockllmError)
    assert issubclass(mockllm.RequestError, mockllm.MockllmError)
