# vigil_bpf_object(<name> <source.bpf.c>)
#
# Compiles a BPF C source with clang for the BPF target, strips DWARF (BTF is
# kept), and generates a libbpf skeleton header with bpftool. Exposes an
# INTERFACE target <name>_skel whose include directory holds <name>.skel.h.
#
# The BPF build reads only bpf/vmlinux/<arch>/vmlinux.h, never the build
# host's /sys (scripts/gen-vmlinux.sh regenerates that header).

set(VIGIL_BPF_MIN_CLANG 14)

if(NOT VIGIL_BPF_CLANG)
  find_program(VIGIL_BPF_CLANG NAMES clang-19 clang-18 clang-17 clang-16 clang-15 clang-14 clang)
endif()
if(NOT VIGIL_BPF_CLANG)
  message(FATAL_ERROR "clang not found: BPF programs need clang >= ${VIGIL_BPF_MIN_CLANG} "
                      "(clang-19 preferred). Run scripts/setup.sh.")
endif()
execute_process(COMMAND ${VIGIL_BPF_CLANG} --version OUTPUT_VARIABLE _clang_ver_out)
string(REGEX MATCH "clang version ([0-9]+)" _m "${_clang_ver_out}")
set(VIGIL_BPF_CLANG_VERSION ${CMAKE_MATCH_1})
if(NOT VIGIL_BPF_CLANG_VERSION)
  message(FATAL_ERROR "${VIGIL_BPF_CLANG} does not say 'clang version N' in --version: "
                      "BPF programs need clang >= ${VIGIL_BPF_MIN_CLANG}. Run scripts/setup.sh.")
endif()
if(VIGIL_BPF_CLANG_VERSION LESS VIGIL_BPF_MIN_CLANG)
  message(FATAL_ERROR "${VIGIL_BPF_CLANG} is clang ${VIGIL_BPF_CLANG_VERSION}: "
                      "BPF programs need clang >= ${VIGIL_BPF_MIN_CLANG}. Run scripts/setup.sh.")
endif()
if(VIGIL_BPF_CLANG_VERSION LESS 19)
  message(WARNING "BPF compiled with clang ${VIGIL_BPF_CLANG_VERSION}; clang-19 generates better BPF code")
endif()

find_program(VIGIL_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin)
if(NOT VIGIL_BPFTOOL)
  message(FATAL_ERROR "bpftool not found: needed to generate BPF skeletons. Run scripts/setup.sh.")
endif()
execute_process(COMMAND ${VIGIL_BPFTOOL} version OUTPUT_VARIABLE _bpftool_out ERROR_QUIET)
string(REGEX MATCH "v([0-9]+)\\.([0-9]+)" _m "${_bpftool_out}")
if(NOT CMAKE_MATCH_1 OR CMAKE_MATCH_1 LESS 7)
  message(FATAL_ERROR "bpftool '${_bpftool_out}' is too old: skeleton generation needs bpftool >= 7.0. "
                      "Run scripts/setup.sh.")
endif()

find_program(VIGIL_LLVM_STRIP NAMES llvm-strip-${VIGIL_BPF_CLANG_VERSION} llvm-strip)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(VIGIL_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(VIGIL_BPF_ARCH arm64)
else()
  message(FATAL_ERROR "no BPF target mapping for ${CMAKE_SYSTEM_PROCESSOR}")
endif()
set(VIGIL_VMLINUX_DIR ${PROJECT_SOURCE_DIR}/bpf/vmlinux/${VIGIL_BPF_ARCH})
if(NOT EXISTS ${VIGIL_VMLINUX_DIR}/vmlinux.h)
  message(FATAL_ERROR "${VIGIL_VMLINUX_DIR}/vmlinux.h is missing: run scripts/gen-vmlinux.sh "
                      "on a ${VIGIL_BPF_ARCH} machine with BTF and commit it.")
endif()

function(vigil_bpf_object name src)
  set(out_dir ${CMAKE_BINARY_DIR}/bpf)
  set(obj ${out_dir}/${name}.bpf.o)
  set(skel ${out_dir}/${name}.skel.h)
  get_filename_component(src_abs ${src} ABSOLUTE)
  file(GLOB_RECURSE bpf_headers ${PROJECT_SOURCE_DIR}/bpf/*.h)
  list(FILTER bpf_headers EXCLUDE REGEX "vmlinux\\.h$")
  if(VIGIL_LLVM_STRIP)
    set(strip_cmd COMMAND ${VIGIL_LLVM_STRIP} -g ${obj})
  endif()
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${VIGIL_BPF_CLANG} -target bpf -mcpu=v3 -D__TARGET_ARCH_${VIGIL_BPF_ARCH} -g -O2 -Wall -Werror
            -I${PROJECT_SOURCE_DIR}/bpf -I${VIGIL_VMLINUX_DIR} -c ${src_abs} -o ${obj}
    ${strip_cmd}
    DEPENDS ${src_abs} ${bpf_headers}
    COMMENT "BPF ${name}: compile ${src}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${VIGIL_BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}
    DEPENDS ${obj}
    COMMENT "BPF ${name}: skeleton"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${out_dir} ${PROJECT_SOURCE_DIR}/bpf)
endfunction()
