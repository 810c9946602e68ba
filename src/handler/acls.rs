//! CreateAcls, DescribeAcls, DeleteAcls (v1-3). The rules are `security::acl`; here are Kafka's
//! answers: ALTER on the cluster to create or delete, DESCRIBE to list, SECURITY_DISABLED when no
//! authorizer is configured.
use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::{DeleteAclsFilterResult, DeleteAclsMatchingAcl};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::*;

use super::{s, Who};
use crate::protocol::error::{acl_error, code};
use crate::security::acl::{op, pattern, AclError, Binding, Filter};
use crate::state::BrokerState;

const DISABLED: &str = "No Authorizer is configured.";

fn filter(
    rt: i8,
    name: Option<&StrBytesLike>,
    pat: i8,
    principal: Option<&StrBytesLike>,
    host: Option<&StrBytesLike>,
    operation: i8,
    permission: i8,
) -> Filter {
    Filter {
        resource_type: rt,
        name: name.map(|n| n.to_string()),
        pattern: pat,
        principal: principal.map(|n| n.to_string()),
        host: host.map(|n| n.to_string()),
        operation,
        permission,
    }
}

type StrBytesLike = kafka_protocol::protocol::StrBytes;

/// A filter Kafka refuses (UNKNOWN values).
fn bad_filter(f: &Filter) -> Option<&'static str> {
    if f.resource_type <= 0 || f.pattern <= 0 || f.operation <= 0 || f.permission <= 0 {
        return Some("The filter contains an UNKNOWN value");
    }
    None
}

pub async fn create_acls(
    state: &Arc<BrokerState>,
    req: CreateAclsRequest,
    _v: i16,
    who: &Who<'_>,
) -> CreateAclsResponse {
    let n = req.creations.len();
    let all = |c: i16, m: &str| {
        CreateAclsResponse::default().with_results(
            (0..n)
                .map(|_| AclCreationResult::default().with_error_code(c).with_error_message(Some(s(m))))
                .collect(),
        )
    };
    let Some(acl) = &state.acl else { return all(code::SECURITY_DISABLED, DISABLED) };
    if !who.may_cluster(op::ALTER) {
        return all(code::CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed.");
    }
    // Kafka: an ANY or MATCH pattern in a creation fails every creation of the request.
    if req.creations.iter().any(|c| matches!(c.resource_pattern_type, pattern::ANY | pattern::MATCH)) {
        return all(code::UNKNOWN_SERVER_ERROR, "Cannot create ACLs with a MATCH or ANY pattern type");
    }
    let mut results = Vec::with_capacity(n);
    for c in req.creations {
        let b = Binding {
            resource_type: c.resource_type,
            name: c.resource_name.to_string(),
            pattern: c.resource_pattern_type,
            principal: c.principal.to_string(),
            host: c.host.to_string(),
            operation: c.operation,
            permission: c.permission_type,
        };
        results.push(match acl.create(vec![b]) {
            Ok(()) => AclCreationResult::default(),
            Err(e) => {
                let c = acl_error(&e);
                let (AclError::Invalid(m) | AclError::Storage(m)) = e;
                AclCreationResult::default().with_error_code(c).with_error_message(Some(s(m)))
            }
        });
    }
    CreateAclsResponse::default().with_results(results)
}

pub async fn describe_acls(
    state: &Arc<BrokerState>,
    req: DescribeAclsRequest,
    _v: i16,
    who: &Who<'_>,
) -> DescribeAclsResponse {
    let Some(acl) = &state.acl else {
        return DescribeAclsResponse::default()
            .with_error_code(code::SECURITY_DISABLED)
            .with_error_message(Some(s(DISABLED)));
    };
    if !who.may_cluster(op::DESCRIBE) {
        return DescribeAclsResponse::default()
            .with_error_code(code::CLUSTER_AUTHORIZATION_FAILED)
            .with_error_message(Some(s("Cluster authorization failed.")));
    }
    let f = filter(
        req.resource_type_filter,
        req.resource_name_filter.as_ref(),
        req.pattern_type_filter,
        req.principal_filter.as_ref(),
        req.host_filter.as_ref(),
        req.operation,
        req.permission_type,
    );
    if let Some(m) = bad_filter(&f) {
        return DescribeAclsResponse::default()
            .with_error_code(code::INVALID_REQUEST)
            .with_error_message(Some(s(m)));
    }
    let mut by_resource: BTreeMap<(i8, String, i8), Vec<AclDescription>> = BTreeMap::new();
    for b in acl.describe(&f) {
        by_resource.entry((b.resource_type, b.name.clone(), b.pattern)).or_default().push(
            AclDescription::default()
                .with_principal(s(b.principal))
                .with_host(s(b.host))
                .with_operation(b.operation)
                .with_permission_type(b.permission),
        );
    }
    let resources = by_resource
        .into_iter()
        .map(|((rt, name, pat), acls)| {
            DescribeAclsResource::default()
                .with_resource_type(rt)
                .with_resource_name(s(name))
                .with_pattern_type(pat)
                .with_acls(acls)
        })
        .collect();
    DescribeAclsResponse::default().with_resources(resources)
}

pub async fn delete_acls(
    state: &Arc<BrokerState>,
    req: DeleteAclsRequest,
    _v: i16,
    who: &Who<'_>,
) -> DeleteAclsResponse {
    let n = req.filters.len();
    let all = |c: i16, m: &str| {
        DeleteAclsResponse::default().with_filter_results(
            (0..n)
                .map(|_| DeleteAclsFilterResult::default().with_error_code(c).with_error_message(Some(s(m))))
                .collect(),
        )
    };
    let Some(acl) = &state.acl else { return all(code::SECURITY_DISABLED, DISABLED) };
    if !who.may_cluster(op::ALTER) {
        return all(code::CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed.");
    }
    let filters: Vec<Filter> = req
        .filters
        .iter()
        .map(|f| {
            filter(
                f.resource_type_filter,
                f.resource_name_filter.as_ref(),
                f.pattern_type_filter,
                f.principal_filter.as_ref(),
                f.host_filter.as_ref(),
                f.operation,
                f.permission_type,
            )
        })
        .collect();
    let valid: Vec<Filter> = filters.iter().filter(|f| bad_filter(f).is_none()).cloned().collect();
    let removed = match acl.delete(&valid) {
        Ok(r) => r,
        Err(e) => {
            let c = acl_error(&e);
            let (AclError::Invalid(m) | AclError::Storage(m)) = e;
            return all(c, &m);
        }
    };
    let mut removed = removed.into_iter();
    let results = filters
        .iter()
        .map(|f| match bad_filter(f) {
            Some(m) => DeleteAclsFilterResult::default()
                .with_error_code(code::INVALID_REQUEST)
                .with_error_message(Some(s(m))),
            None => DeleteAclsFilterResult::default().with_matching_acls(
                removed
                    .next()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|b| {
                        DeleteAclsMatchingAcl::default()
                            .with_resource_type(b.resource_type)
                            .with_resource_name(s(b.name))
                            .with_pattern_type(b.pattern)
                            .with_principal(s(b.principal))
                            .with_host(s(b.host))
                            .with_operation(b.operation)
                            .with_permission_type(b.permission)
                    })
                    .collect(),
            ),
        })
        .collect();
    DeleteAclsResponse::default().with_filter_results(results)
}
