fn main() -> anyhow::Result<()> {
    anyhow::bail!("evpnctl: no commands yet; see README.md")
}
