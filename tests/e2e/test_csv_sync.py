"""CSV exports from two systems → one deduplicated set of golden records, on SQLite and PostgreSQL.

Covers the invariants this path touches: idempotent re-import, nothing lost on a bad row (named with
file and line), crash and restart converging, every value explained, the audit chain intact.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.bootstrap import Hub, open_hub
from state.tables import audit_events, golden_records, record_errors, source_records, xref

CONFIG = """
hub:
  database_url: {db}
  default_region: CN
  batch_size: 3
custom_fields:
  Company: {{credit_limit: decimal}}
systems:
  erp:
    kind: csv
    options:
      directory: erp
      objects:
        customers: {{file: 客户.csv, id_column: 客户编码, modified_column: 更新时间}}
        contacts: {{file: 联系人.csv, id_column: 编码, modified_column: 更新时间}}
    objects:
      customers: {{mapping: m/erp_customers.yaml}}
      contacts: {{mapping: m/erp_contacts.yaml}}
  crm:
    kind: csv
    options:
      directory: crm
      objects:
        contacts: {{file: contacts.csv, id_column: Contact ID, modified_column: Last Modified}}
    objects:
      contacts: {{mapping: m/crm_contacts.yaml}}
survivorship:
  default: {{rule: priority, systems: [erp, crm]}}
  fields:
    Person.title: {{rule: latest}}
"""

ERP_CUSTOMERS = """entity: Company
fields:
  name: 客户名称
  credit_code: 统一社会信用代码
  phone: 电话
  custom.credit_limit: 信用额度
"""
ERP_CONTACTS = """entity: Person
fields:
  full_name: 姓名
  mobile: 手机
  email: 邮箱
  title: 职务
refs:
  company_id: {source: 客户编码, object: customers}
"""
CRM_CONTACTS = """entity: Person
fields:
  first_name: First Name
  last_name: Last Name
  email: Email
  mobile: Mobile
  title: Title
"""

CUSTOMERS_GBK = (
    "客户编码,客户名称,统一社会信用代码,电话,信用额度,更新时间\n"
    "C1,华为技术有限公司,91440300192203821K,0755-28780808,500000,2026-01-01 08:00:00\n"
    "C2,阿里巴巴（中国）有限公司,91330100716105852F,0571-85022088,abc,2026-01-01 08:00:00\n"
)
CONTACTS_GBK = (
    "编码,姓名,手机,邮箱,职务,客户编码,更新时间\n"
    "L1,张伟,13800138000,zhang.wei@huawei.com,采购经理,C1,2026-01-02 08:00:00\n"
    "L2,李娜,139-1234-5678,li.na@alibaba-inc.com,财务总监,C2,2026-01-02 08:00:00\n"
    "L3,王芳,,,销售,C1,2026-01-02 08:00:00\n"
    ",无编码,13700000000,,,C1,2026-01-02 08:00:00\n"
    "L5,赵敏,13600000000,zhao.min@example.cn,经理,C9,2026-01-02 08:00:00\n"
)
CRM_CSV = (
    "Contact ID,First Name,Last Name,Email,Mobile,Title,Last Modified\n"
    "003A,Wei,Zhang, Zhang.Wei@Huawei.com ,+86 138 0013 8000,Purchasing Manager,2026-01-03 08:00:00\n"
    "003B,Na,Li,,+86-139-1234-5678,CFO,2026-01-01 07:00:00\n"
    "003C,Emma,Smith,emma@acme.com,,Buyer,2026-01-03 08:00:00\n"
    "003D,Bad,Row,bad@x.cn,,,2026-01-03,surplus\n"
)


def make_config(tmp_path: Path, db_url: str) -> Path:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "erp_customers.yaml").write_text(ERP_CUSTOMERS, encoding="utf-8")
    (tmp_path / "m" / "erp_contacts.yaml").write_text(ERP_CONTACTS, encoding="utf-8")
    (tmp_path / "m" / "crm_contacts.yaml").write_text(CRM_CONTACTS, encoding="utf-8")
    (tmp_path / "erp").mkdir()
    (tmp_path / "erp" / "客户.csv").write_bytes(CUSTOMERS_GBK.encode("gbk"))
    (tmp_path / "erp" / "联系人.csv").write_bytes(CONTACTS_GBK.encode("gbk"))
    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "contacts.csv").write_bytes(CRM_CSV.encode("utf-8-sig"))
    config = tmp_path / "huitong.yaml"
    config.write_text(CONFIG.format(db=db_url), encoding="utf-8")
    return config


@pytest.fixture
def hub(tmp_path: Path, db_url: str):
    h = open_hub(make_config(tmp_path, db_url))
    yield h
    h.close()


def _count(h: Hub, table: sa.Table) -> int:
    with h.store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _golden_of(h: Hub, system: str, obj: str, ext: str) -> str:
    with h.store.engine.connect() as conn:
        return str(
            conn.execute(
                sa.select(xref.c.canonical_id).where(
                    xref.c.system == system, xref.c.object == obj, xref.c.external_id == ext
                )
            ).scalar_one()
        )


def test_two_exports_become_one_deduplicated_set(hub: Hub) -> None:
    summary = hub.engine().sync()
    assert summary.status == "partial"  # two bad rows, the rest imported
    c = summary.counts
    assert c["read"] == 2 + 4 + 3
    assert c["rejected"] == 2
    # 张伟 (ERP) and Wei Zhang (CRM) share a mobile and an email: one person.
    assert _golden_of(hub, "erp", "contacts", "L1") == _golden_of(hub, "crm", "contacts", "003A")
    # 李娜 and Na Li share only a mobile (weak key) and nothing strong disagrees: linked.
    assert _golden_of(hub, "erp", "contacts", "L2") == _golden_of(hub, "crm", "contacts", "003B")
    assert _golden_of(hub, "crm", "contacts", "003C") not in {
        _golden_of(hub, "erp", "contacts", "L1"),
        _golden_of(hub, "erp", "contacts", "L2"),
    }
    with hub.store.transaction() as tx:
        counts = tx.count_goldens()
    assert counts == {"Company": 2, "Person": 5}


def test_person_is_linked_to_its_company_through_the_xref(hub: Hub) -> None:
    hub.engine().sync()
    person = _golden_of(hub, "erp", "contacts", "L1")
    company = _golden_of(hub, "erp", "customers", "C1")
    with hub.store.transaction() as tx:
        golden = tx.goldens([person])[person]
    assert golden.fields["company_id"].value == company


def test_bad_rows_are_rejected_with_file_and_line_and_the_rest_goes_on(
    hub: Hub, tmp_path: Path
) -> None:
    summary = hub.engine().sync()
    errors = hub.store.errors(summary.run_id)
    rejected = {(e.location, e.reason) for e in errors if e.severity == "rejected"}
    locations = {loc for loc, _ in rejected}
    assert "联系人.csv:5" in locations  # empty id
    assert "contacts.csv:5" in locations  # too many fields
    warnings = [e for e in errors if e.severity == "warning"]
    assert any(e.location == "客户.csv:3" and "信用额度" in e.reason for e in warnings)
    assert any(e.location == "联系人.csv:6" and "C9" in e.reason for e in warnings)
    reject_files = list(tmp_path.rglob("*.rejects.csv"))
    assert reject_files, "the CSV connector writes a reject file beside the export"


def test_reimporting_the_same_files_changes_nothing(hub: Hub) -> None:
    hub.engine().sync()
    before = {t.name: _count(hub, t) for t in (source_records, golden_records, xref, audit_events)}
    second = hub.engine().sync(full=True)  # ignore the cursor: every record is read and compared
    assert second.counts["read"] == 9
    assert second.counts["unchanged"] == 9
    assert second.counts["created"] == second.counts["updated"] == second.counts["linked"] == 0
    after = {t.name: _count(hub, t) for t in (source_records, golden_records, xref, audit_events)}
    assert after == before
    incremental = hub.engine().sync()  # the cursor skips unchanged files entirely
    assert incremental.counts["read"] == 0


def test_changed_row_updates_golden_with_field_level_audit(hub: Hub, tmp_path: Path) -> None:
    hub.engine().sync()
    crm = tmp_path / "crm" / "contacts.csv"
    crm.write_bytes(
        CRM_CSV.replace("Purchasing Manager,2026-01-03", "Head of Purchasing,2026-01-04").encode(
            "utf-8-sig"
        )
    )
    summary = hub.engine().sync()
    assert summary.counts["updated"] == 1
    assert (
        summary.counts["unchanged"] == 2
    )  # the other two CRM rows; the ERP files are skipped by cursor
    cid = _golden_of(hub, "crm", "contacts", "003A")
    with hub.store.transaction() as tx:
        golden = tx.goldens([cid])[cid]
        history = tx.audit_for(cid)
    assert golden.fields["title"].value == "Head of Purchasing"  # latest wins for title
    change = history[0]["detail"]["changes"]["title"]
    assert change == {
        "before": "Purchasing Manager",
        "after": "Head of Purchasing",
        "src": "crm/contacts/003A",
        "rule": "latest",
        "at": "2026-01-04T00:00:00+00:00",  # the CRM's change time (08:00 Beijing)
    }
    assert hub.store.verify_audit().ok


def test_conflicts_are_recorded_with_both_values(hub: Hub) -> None:
    summary = hub.engine().sync()
    assert summary.counts["conflicts"] >= 1
    cid = _golden_of(hub, "erp", "contacts", "L1")
    with hub.store.transaction() as tx:
        history = tx.audit_for(cid)
    conflicts = [c for e in history for c in e["detail"].get("conflicts", [])]
    titles = [c for c in conflicts if c["field"] == "title"]
    assert titles
    assert {v[1] for v in titles[0]["values"]} == {"采购经理", "Purchasing Manager"}


def test_crash_mid_sync_then_restart_converges(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path, db_url)
    reference_dir = tmp_path / "ref"
    reference_dir.mkdir()
    from hub.apply import Applier

    calls = {"n": 0}
    original = Applier.apply

    def crashing(self, tx, candidates):
        calls["n"] += 1
        result = original(self, tx, candidates)
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")  # after the work, before the commit
        return result

    monkeypatch.setattr(Applier, "apply", crashing)
    h = open_hub(config)
    with pytest.raises(KeyboardInterrupt):
        h.engine().sync()
    h.close()
    monkeypatch.setattr(Applier, "apply", original)
    h = open_hub(config)
    summary = h.engine().sync()
    assert summary.counts["created"] + summary.counts["linked"] > 0
    with h.store.transaction() as tx:
        counts = tx.count_goldens()
    assert counts == {"Company": 2, "Person": 5}
    assert _count(h, source_records) == 9
    assert _count(h, xref) == 9
    assert h.store.verify_audit().ok
    h.close()


def test_explain_names_every_candidate_and_the_rule(hub: Hub) -> None:
    from hub.explain import explain

    hub.engine().sync()
    cid = _golden_of(hub, "erp", "contacts", "L1")
    data = explain(hub.store, hub.settings, cid, None)
    assert data is not None
    fields = {f["field"]: f for f in data["fields"]}
    title = fields["title"]
    assert title["rule"] == "latest"
    assert {c["source"] for c in title["candidates"]} == {"erp/contacts/L1", "crm/contacts/003A"}
    assert title["value"] == "Purchasing Manager"
    full_name = fields["full_name"]
    assert full_name["rule"] == "priority"
    assert full_name["source"] == "erp/contacts/L1"
    reasons = {link["source"]: link["reason"] for link in data["links"]}
    assert reasons["crm/contacts/003A"]["rule"] == "deterministic"
    assert any(k.startswith("email:") for k in reasons["crm/contacts/003A"]["keys"])
    json.dumps(data)  # machine-readable as is


def test_record_errors_are_in_the_same_database(hub: Hub) -> None:
    hub.engine().sync()
    assert _count(hub, record_errors) >= 2
