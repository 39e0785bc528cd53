/// The version of synx, the same in every binary (`--version`) and in what synxd reports (`synxctl status`).
public let synxVersion = "0.1.0"
