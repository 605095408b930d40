# The campaign operator's key: secp256k1 in Cloud KMS (HSM: the only protection level KMS
# offers for that curve). It never leaves KMS; the operator function's account may ask it
# to sign and read its public key (functions.yaml `uses: [chain_signing]`), nobody else
# holds a role on it. Its address is the ProposalFunding contract's operator: deploy the
# contract with the address `python -m infra.operator_address KEY_VERSION` prints (docs/deploy.md).
resource "google_kms_key_ring" "chain" {
  name       = "${local.name_prefix}-chain"
  location   = var.region
  depends_on = [google_project_service.api]
}

resource "google_kms_crypto_key" "operator" {
  #checkov:skip=CKV_GCP_82:an asymmetric signing key cannot rotate: its address is the contract's operator
  name     = "proposal-funding-operator"
  key_ring = google_kms_key_ring.chain.id
  purpose  = "ASYMMETRIC_SIGN"
  version_template {
    algorithm        = "EC_SIGN_SECP256K1_SHA256"
    protection_level = "HSM"
  }
  labels = local.labels
  lifecycle {
    prevent_destroy = true # destroying it orphans every campaign the contract's operator would open
  }
}

data "google_kms_crypto_key_version" "operator" {
  crypto_key = google_kms_crypto_key.operator.id
}

resource "google_kms_crypto_key_iam_member" "operator" {
  for_each      = local.grants_on["kms_key"]
  crypto_key_id = google_kms_crypto_key.operator.id
  role          = each.value.role
  member        = "serviceAccount:${google_service_account.function[each.value.function].email}"
}
