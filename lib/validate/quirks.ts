// Where a built-in schema says more than the API server enforces. A schema's
// `required` only means the Go field has no `omitempty`; a missing field
// decodes as its zero value, which the server's validation code may accept
// or default. Likewise "" in an enum field is, for some fields, the zero
// value the server defaults (imagePullPolicy, protocol), and for others a
// value it rejects (pathType, volumeMode). The entries are those of the
// pinned version; a bundle of another version uses them too, so run the
// mutation test against that version's API server when adding one. Each entry here was found, and is kept honest, by the
// mutation test against the real API server
// (test/integration/validate-server.test.ts): removing an entry, or a new
// kind of object needing one, fails that test.

/** Definition → required fields the server accepts missing. */
export const REQUIRED_NOT_ENFORCED: Readonly<Record<string, readonly string[]>> = {
  // Defaulted: roleRef.apiGroup to rbac.authorization.k8s.io, status to "True".
  'io.k8s.api.rbac.v1.RoleRef': ['apiGroup'],
  'io.k8s.api.batch.v1.PodFailurePolicyOnPodConditionsPattern': ['status'],
  // The zero value is valid: no rules, no limits, no endpoints, an empty
  // preference, 0 seconds, an empty header or sysctl value, the default
  // audience, priority 0, a CSIDriver with every option at its default.
  'io.k8s.api.batch.v1.PodFailurePolicy': ['rules'],
  'io.k8s.api.core.v1.LimitRangeSpec': ['limits'],
  'io.k8s.api.discovery.v1.EndpointSlice': ['endpoints'],
  'io.k8s.api.core.v1.PreferredSchedulingTerm': ['preference'],
  'io.k8s.api.core.v1.SleepAction': ['seconds'],
  'io.k8s.api.core.v1.HTTPHeader': ['value'],
  'io.k8s.api.core.v1.Sysctl': ['value'],
  'io.k8s.api.storage.v1.TokenRequest': ['audience'],
  'io.k8s.api.scheduling.v1.PriorityClass': ['value'],
  'io.k8s.api.storage.v1.CSIDriver': ['spec'],
  // Dynamic resource allocation: an empty spec, a zero generation, a zero capacity are valid.
  'io.k8s.api.resource.v1.DeviceClass': ['spec'],
  'io.k8s.api.resource.v1.ResourceClaim': ['spec'],
  'io.k8s.api.resource.v1.ResourcePool': ['generation'],
  'io.k8s.api.resource.v1.DeviceCapacity': ['value'],
  // Dropped with DRADeviceTaints (alpha) off, like the enums below.
  'io.k8s.api.resource.v1.DeviceTaint': ['key', 'effect'],
  // false is a valid value (a version not served).
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion': [
    'served',
  ],
};

/** Definition → enum fields where "" is no value: the server defaults it. */
export const ENUM_EMPTY_IS_UNSET: Readonly<Record<string, readonly string[]>> = {
  'io.k8s.api.apps.v1.DaemonSetUpdateStrategy': ['type'],
  'io.k8s.api.apps.v1.DeploymentStrategy': ['type'],
  'io.k8s.api.apps.v1.StatefulSetSpec': ['podManagementPolicy'],
  'io.k8s.api.apps.v1.StatefulSetUpdateStrategy': ['type'],
  'io.k8s.api.batch.v1.CronJobSpec': ['concurrencyPolicy'],
  'io.k8s.api.core.v1.Container': ['imagePullPolicy', 'terminationMessagePolicy'],
  'io.k8s.api.core.v1.ContainerPort': ['protocol'],
  'io.k8s.api.core.v1.EndpointPort': ['protocol'],
  'io.k8s.api.core.v1.HTTPGetAction': ['scheme'],
  'io.k8s.api.core.v1.HostPathVolumeSource': ['type'],
  'io.k8s.api.core.v1.PersistentVolumeSpec': ['persistentVolumeReclaimPolicy'],
  'io.k8s.api.core.v1.PodSpec': ['dnsPolicy', 'restartPolicy'],
  'io.k8s.api.core.v1.ServicePort': ['protocol'],
  'io.k8s.api.core.v1.ServiceSpec': ['type', 'externalTrafficPolicy', 'sessionAffinity'],
  'io.k8s.api.core.v1.Toleration': ['effect', 'operator'],
  'io.k8s.api.storage.v1.StorageClass': ['reclaimPolicy'],
  'io.k8s.api.resource.v1.DeviceToleration': ['effect', 'operator'],
};

/** Definition → enum fields (or list items) whose enum lists "" but the server rejects it. */
export const ENUM_EMPTY_REJECTED: Readonly<Record<string, readonly string[]>> = {
  // IPFamilyUnknown is a Go constant, not a value the server takes.
  'io.k8s.api.core.v1.ServiceSpec': ['ipFamilies'],
};

/**
 * Definition → enum fields the server does not check by default: fields of
 * features that are off by default, which it drops, whatever their value,
 * unless the cluster turns the feature gate on.
 */
export const ENUM_NOT_ENFORCED: Readonly<Record<string, readonly string[]>> = {
  'io.k8s.api.core.v1.Lifecycle': ['stopSignal'], // ContainerStopSignals, alpha
  'io.k8s.api.core.v1.ImageVolumeSource': ['pullPolicy'], // ImageVolume, beta, off
  'io.k8s.api.resource.v1.DeviceTaint': ['effect'], // DRADeviceTaints, alpha
};
