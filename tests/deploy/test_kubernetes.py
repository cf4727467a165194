"""deploy/kubernetes: every object valid for Kubernetes, and the security settings present.

No cluster or kustomize runs here: :func:`render` does the little the kustomization asks
(namespace, labels, the policy ConfigMap, the image override) and ``kubernetes-validate``
checks each object against the API's own schema, strictly (unknown fields are errors).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gatekeeper.config import Limits
from gatekeeper.policy.loader import check_paths
from tests.helpers.processes import REPO_ROOT

KUSTOMIZE = REPO_ROOT / "deploy" / "kubernetes"
K8S_VERSION = "1.37.0"  # the newest schema kubernetes-validate ships (requirements/dev.txt)
CLUSTER_SCOPED = {"Namespace"}
Obj = dict[str, Any]


def render() -> list[Obj]:
    """The objects ``kubectl apply -k deploy/kubernetes`` would create."""
    kust = yaml.safe_load((KUSTOMIZE / "kustomization.yaml").read_text())
    objects: list[Obj] = []
    for name in kust["resources"]:
        objects += [doc for doc in yaml.safe_load_all((KUSTOMIZE / name).read_text()) if doc]
    for generator in kust.get("configMapGenerator", []):
        data = {Path(f).name: (KUSTOMIZE / f).read_text() for f in generator["files"]}
        meta = {"name": generator["name"]}
        objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data})
    images = {image["name"]: image for image in kust.get("images", [])}
    for obj in objects:
        if obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = kust["namespace"]
        for label in kust.get("labels", []):
            obj["metadata"].setdefault("labels", {}).update(label["pairs"])
        for container in containers(obj):
            override = images.get(container["image"].split(":")[0])
            if override:
                container["image"] = f"{override['newName']}:{override['newTag']}"
    return objects


def containers(obj: Obj) -> list[Obj]:
    if obj["kind"] != "Deployment":
        return []
    return list(obj["spec"]["template"]["spec"]["containers"])


def one(objects: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


OBJECTS = render()


@pytest.mark.parametrize(
    "obj", OBJECTS, ids=[f"{o['kind']}/{o['metadata']['name']}" for o in OBJECTS]
)
def test_object_is_valid_for_kubernetes(obj: Obj) -> None:
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_every_part_is_there() -> None:
    kinds = {(o["kind"], o["metadata"]["name"]) for o in OBJECTS}
    for expected in [
        ("Deployment", "gatekeeper"),
        ("Service", "gatekeeper"),
        ("ConfigMap", "gatekeeper-policy"),
        ("PodDisruptionBudget", "gatekeeper"),
        ("HorizontalPodAutoscaler", "gatekeeper"),
        ("Deployment", "registry"),
        ("Deployment", "redis"),
        ("NetworkPolicy", "registry-from-gatekeeper-only"),
        ("NetworkPolicy", "redis-from-gatekeeper-only"),
    ]:
        assert expected in kinds


@pytest.mark.parametrize("name", ["gatekeeper", "registry", "redis"])
def test_pods_meet_the_restricted_pod_security_standard(name: str) -> None:
    pod = one(OBJECTS, "Deployment", name)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"]
        assert "limits" in container["resources"]
    namespace = one(OBJECTS, "Namespace", "gatekeeper")["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"


def test_gatekeeper_probes_and_shutdown() -> None:
    deployment = one(OBJECTS, "Deployment", "gatekeeper")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"].endswith(":0.1.0")
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's USER
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pre_stop > 0
    # SIGKILL must not come before gatekeeper's own grace has run out after the preStop delay.
    assert pod["terminationGracePeriodSeconds"] > pre_stop + Limits().shutdown_grace
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/etc/gatekeeper/policy"]["readOnly"] is True


def test_disruption_budget_and_autoscaler_target_gatekeeper() -> None:
    labels = one(OBJECTS, "Deployment", "gatekeeper")["spec"]["template"]["metadata"]["labels"]
    pdb = one(OBJECTS, "PodDisruptionBudget", "gatekeeper")["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    hpa = one(OBJECTS, "HorizontalPodAutoscaler", "gatekeeper")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "gatekeeper",
    }
    assert hpa["minReplicas"] > pdb["minAvailable"]  # a drain never blocks forever


@pytest.mark.parametrize("name", ["registry", "redis"])
def test_only_gatekeeper_reaches_the_backends(name: str) -> None:
    default = one(OBJECTS, "NetworkPolicy", "default-deny-ingress")["spec"]
    assert default["podSelector"] == {}
    assert default["policyTypes"] == ["Ingress"]
    assert "ingress" not in default
    policy = one(OBJECTS, "NetworkPolicy", f"{name}-from-gatekeeper-only")["spec"]
    assert policy["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": name}
    (rule,) = policy["ingress"]
    assert rule["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gatekeeper"}}}
    ]
    service = one(OBJECTS, "Service", name)["spec"]
    assert service.get("type", "ClusterIP") == "ClusterIP"


def test_policy_config_map_is_a_valid_policy(tmp_path: Path) -> None:
    data = one(OBJECTS, "ConfigMap", "gatekeeper-policy")["data"]
    for name, text in data.items():
        (tmp_path / name).write_text(text)
    assert check_paths([tmp_path]) == []
